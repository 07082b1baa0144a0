// Where the guided film strip's cards come from: the caller's assigned queue first (GET project/{id}/queue), then
// the model's ranking (GET project/{id}/next). `queueState` holds the caller's assignment progress as the newest
// queue answer gave it, for MyQueue.vue.
import Vue from 'vue';

import * as rest from '../rest';

const queueState = Vue.observable({projectId: null, assigned: 0, done: 0, remaining: 0});

function record(projectId, queue) {
    Object.assign(queueState, {projectId, assigned: queue.assigned, done: queue.done, remaining: queue.remaining});
}

// Reload the caller's progress only (no rows).
function loadQueue(projectId) {
    return rest.myQueue(projectId, 0, 0).done((queue) => record(projectId, queue));
}

// `limit` rows of the concatenation "my queue, then the ranking" from `offset` (a jQuery promise, like
// rest.nextSuperpixels). A ranked row may repeat a queued one: the strip drops keys it has seen.
function guidedPage(projectId, limit, offset) {
    const queue = rest.myQueue(projectId, limit, offset);
    // with nothing left in my queue last time, ask for the ranking now rather than after the queue answers
    const idle = queueState.projectId === projectId && !queueState.remaining;
    const early = idle ? rest.nextSuperpixels(projectId, limit, offset) : null;
    return queue.then((answer) => {
        record(projectId, answer);
        const rows = answer.rows;
        if (rows.length >= limit) {
            return rows;
        }
        const nextOffset = Math.max(0, offset - answer.remaining);
        const reuse = early && !rows.length && nextOffset === offset;
        const ranked = reuse ? early : rest.nextSuperpixels(projectId, limit - rows.length, nextOffset);
        return ranked.then((more) => rows.concat(more));
    });
}

export {guidedPage, loadQueue, queueState};
