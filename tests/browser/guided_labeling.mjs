// Issue 10 end to end as a non-admin labeler, in Debian's chromium with playwright-core.
// Usage: node guided_labeling.mjs BASE_URL LOGIN PASSWORD PROJECT_ID ITEM_ID ARTIFACT_DIR
// Opens the project on the demo slide in HistomicsUI (/histomics#?image=&hlProject=), then: superpixels shown ->
// two new categories -> clicks and a Shift-drag stroke -> Ctrl-Z -> train -> the film strip shows predictions ->
// five cards labeled by hotkey -> a retrain while labeling -> the strip on the new epoch -> the review grid
// filtered by the labeler. After each step it checks what the server stored (REST as the labeler) and saves a
// screenshot. Writes ARTIFACT_DIR/guided_summary.json (labels written, screenshots, page errors) and
// ARTIFACT_DIR/guided_timings.json (click -> colour, click -> write acknowledged, next card, next page; ms).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {chromium} from 'playwright-core';

import {CHROMIUM_FLAGS, check, girderToken, until as poll} from './e2e.mjs';

const [baseUrl, login, password, projectId, itemId, artifacts] = process.argv.slice(2);
const LONG = 120000; // generous: a loaded 2-core machine
const project = `histomics_label/project/${projectId}`;
const screenshots = [];
let token;

async function api(route, options = {}) {
    const resp = await fetch(`${baseUrl}/api/v1/${route}`, {...options, headers: {'Girder-Token': token}});
    if (!resp.ok) {
        throw new Error(`${options.method || 'GET'} ${route}: HTTP ${resp.status} ${await resp.text()}`);
    }
    return resp.json();
}

function until(what, probe, timeout = LONG) {
    return poll(what, probe, timeout);
}

function percentiles(values) {
    const sorted = [...values].sort((a, b) => a - b);
    const at = (p) => sorted.length ? +sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)].toFixed(1) : null;
    return {n: sorted.length, p50: at(50), p95: at(95), max: at(100), values: values.map((v) => +v.toFixed(1))};
}

// Wait until the server published `epoch` (its training done); a failed training ends the test with its error.
async function waitEpoch(epoch) {
    await until(`epoch ${epoch}`, async () => {
        const status = await api(`${project}/status`);
        if (status.training && status.training.status === 'error') {
            throw new Error(`training epoch ${epoch} failed: ${status.training.error}`);
        }
        return status.epoch === epoch && status.training.status === 'done';
    }, 300000);
    console.log(`ok: the server published epoch ${epoch}`);
}

const keyOf = (label) => `${label.itemId}:${label.superpixel}`;

async function main() {
    fs.mkdirSync(artifacts, {recursive: true});
    token = await girderToken(baseUrl, login, password);
    console.log(`ok: ${login} logs in`);
    const me = await api('user/me');
    check(!me.admin, `${login} is not an admin`);
    const myLabels = async () => Object.fromEntries(
        (await api(`${project}/label?userId=${me._id}&limit=0`)).map((label) => [keyOf(label), label]));
    const categoryOf = (labels) => Object.fromEntries(Object.entries(labels).map(([key, label]) => [key, label.categoryId]));
    const same = (a, b) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

    const browser = await chromium.launch({executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_FLAGS});
    const errors = [];
    const writes = []; // the bodies of PUT label, in order
    const timings = {};
    try {
        const context = await browser.newContext({viewport: {width: 1400, height: 900}});
        await context.addInitScript((t) => window.localStorage.setItem('girderToken', t), token);
        await context.addCookies([{name: 'girderToken', value: token, url: baseUrl}]);
        const page = await context.newPage();
        page.setDefaultTimeout(LONG);
        page.on('pageerror', (err) => errors.push(err.message));
        page.on('request', (req) => {
            if (req.method() === 'PUT' && req.url().endsWith(`/${project}/label`)) {
                writes.push(JSON.parse(req.postData()));
            }
        });
        let overlayTiles = 0;
        page.on('response', (resp) => {
            const match = resp.url().match(/\/item\/([0-9a-f]{24})\/tiles\/zxy\//);
            if (match && match[1] !== itemId && resp.status() === 200) {
                overlayTiles += 1;
            }
        });
        const shot = async (name) => {
            await page.screenshot({path: path.join(artifacts, name)});
            screenshots.push(name);
            console.log(`screenshot ${path.join(artifacts, name)}`);
        };
        const settle = () => page.waitForLoadState('networkidle', {timeout: LONG}).catch(() => null);
        const baseline = categoryOf(await myLabels()); // empty in the test; a rerun on a dev server starts from its labels
        const epoch0 = (await api(`${project}/status`)).epoch || 0;
        const expected = () => {
            const state = {...baseline};
            writes.forEach((write) => write.labels.forEach((label) => {
                const key = `${write.itemId}:${label.superpixel}`;
                if (label.categoryId) {
                    state[key] = label.categoryId;
                } else {
                    delete state[key];
                }
            }));
            return state;
        };

        // 1. open the project on the demo slide: the panel, the slide navigator and the superpixel overlay
        await page.goto(`${baseUrl}/histomics#?image=${itemId}&hlProject=${projectId}&bounds=600,600,1400,1100,0`);
        await page.waitForSelector('.h-hl-labeling-panel .h-hl-slides');
        await until('superpixel overlay tiles', () => overlayTiles >= 2);
        await settle();
        check(await page.locator('.h-hl-training-retrain').isVisible(), 'the labeler sees Retrain');
        check(!(await page.locator('.h-hl-readonly').count()), 'no read-only notice for a writer');
        await shot('guided-01-open.png');

        // 2. two categories through the categories panel, with hotkeys
        for (const [name, hotkey] of [['Tumor', '1'], ['Stroma', '2']]) {
            await page.fill('.h-hl-new-category-name', name);
            await page.selectOption('.h-hl-hotkey-select', hotkey);
            await page.click('.h-hl-add-category-button');
            await page.locator('.h-hl-category-name', {hasText: name}).waitFor();
        }
        const categories = Object.fromEntries((await api(`${project}/category`)).map((c) => [c.name, c]));
        check(categories.Tumor && categories.Stroma && categories.Tumor.hotkey === '1' && categories.Stroma.hotkey === '2',
            'the server holds Tumor (1) and Stroma (2)', categories);
        const tumor = categories.Tumor._id;
        const stroma = categories.Stroma._id;
        await shot('guided-02-categories.png');

        // 3. clicks with each category (hotkey picks it), then a Shift-drag stroke
        const clickAt = [];
        for (let row = 0; row < 4; row += 1) {
            for (let col = 0; col < 4; col += 1) {
                clickAt.push([620 + col * 110 + (row % 2) * 50, 160 + row * 170]);
            }
        }
        for (const [index, [x, y]] of clickAt.entries()) {
            if (index % 8 === 0) {
                await page.keyboard.press(index < 8 ? '1' : '2');
            }
            await page.mouse.click(x, y);
            await page.waitForTimeout(300);
        }
        await until('every click acknowledged', async () => (await page.evaluate(
            () => performance.getEntriesByType('measure').filter((m) => m.name.endsWith('click-to-acknowledged')).length)) >= writes.length);
        let stored = await myLabels();
        check(writes.length >= clickAt.length - 2, `${clickAt.length} clicks sent ${writes.length} writes (one per click on a superpixel)`);
        check(same(categoryOf(stored), expected()), 'the server holds the clicked labels');
        check(Object.values(stored).every((l) => l.source === 'paint' && l.userId === me._id), 'source paint, by the labeler');
        const clicked = categoryOf(stored);
        check(Object.values(clicked).includes(tumor) && Object.values(clicked).includes(stroma), 'both categories labeled', clicked);
        await shot('guided-03-clicks.png');
        const beforeStroke = writes.length;
        await page.keyboard.press('1');
        await page.keyboard.down('Shift');
        await page.mouse.move(560, 250);
        await page.mouse.down();
        for (let step = 1; step <= 25; step += 1) {
            await page.mouse.move(560 + step * 19, 250 + step * 4);
            await page.waitForTimeout(20);
        }
        await page.mouse.up();
        await page.keyboard.up('Shift');
        await until('the stroke written', () => writes.length > beforeStroke, 30000);
        await until('the stroke stored', async () => same(categoryOf(await myLabels()), expected()));
        const stroke = writes[beforeStroke];
        check(writes.length === beforeStroke + 1 && stroke.labels.length >= 3,
            `one write for the stroke over ${stroke.labels.length} superpixels`);
        await settle();
        await shot('guided-04-stroke.png');

        // 4. Ctrl-Z: the stroke is undone on the server
        const undo = page.waitForResponse((resp) => resp.url().includes(`/${project}/label/undo`));
        await page.keyboard.press('Control+z');
        check((await undo).status() === 200, 'Ctrl-Z posts the undo');
        stored = await myLabels();
        check(same(categoryOf(stored), clicked), 'after undo the server holds the clicks only', categoryOf(stored));
        await settle();
        await shot('guided-05-undo.png');

        // 5. train from the panel; the server publishes epoch 1
        await page.click('.h-hl-training-retrain');
        await page.waitForSelector('.h-hl-training-running');
        await shot('guided-06-training.png');
        const epoch1 = epoch0 + 1;
        await waitEpoch(epoch1);
        await page.locator('.h-hl-epoch', {hasText: `epoch ${epoch1}`}).waitFor();

        // 6. the film strip shows predictions of epoch 1
        await page.click('.h-hl-tab-guided');
        const focusedKey = () => page.evaluate(() => {
            const card = document.querySelector('.h-hl-film-card.h-hl-focused');
            const img = card && card.querySelector('img');
            return card && img && img.complete && img.naturalWidth ? card.dataset.key : null;
        });
        await until('a focused card with its picture', focusedKey);
        const cardCategories = await page.$$eval('.h-hl-film-card .h-hl-film-info', (nodes) => nodes.map((n) => n.innerText));
        check(cardCategories.length >= 5 && cardCategories.every((text) => /Tumor|Stroma/.test(text) && /%/.test(text)),
            `${cardCategories.length} cards show a predicted category and its probability`, cardCategories);
        const next = await api(`${project}/next?limit=5`);
        check(next.every((row) => !(keyOf(row) in stored)), 'the ranked queue skips labeled superpixels');
        await settle();
        await shot('guided-07-strip.png');

        // the help ('?') lists the film strip's keys next to the view's, and Esc closes it
        await page.keyboard.press('?');
        const guidedHelp = await page.locator('.h-hl-help .h-hl-help-guided').innerText();
        check(['Enter, Space', 'Shift + Enter', 'PageDown', '1 – 9'].every((key) => guidedHelp.includes(key)) &&
            (await page.locator('.h-hl-help .h-hl-help-all').innerText()).includes('Ctrl + Z'),
        'the help lists the Guided keys (Enter, Shift + Enter, PageDown, 1 – 9) and Ctrl + Z', guidedHelp);
        await shot('guided-07-help.png');
        await page.keyboard.press('Escape');
        await page.locator('.h-hl-help').waitFor({state: 'detached'});

        // timings: moving to the next card (prefetched picture) and to the next page, by keys
        const strip = async (key, count) => page.evaluate(async ([key, count]) => {
            const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
            const focused = () => {
                const card = document.querySelector('.h-hl-film-card.h-hl-focused');
                const img = card && card.querySelector('img');
                return card && img && img.complete && img.naturalWidth ? card.dataset.key : null;
            };
            const samples = [];
            for (let i = 0; i < count; i += 1) {
                const before = focused();
                const start = performance.now();
                document.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true}));
                while (!focused() || focused() === before) {
                    await frame();
                    if (performance.now() - start > 30000) {
                        throw new Error(`${key}: no new focused card after 30 s`);
                    }
                }
                samples.push(performance.now() - start);
                await new Promise((resolve) => setTimeout(resolve, 400));
            }
            return samples;
        }, [key, count]);
        timings.nextCard = percentiles(await strip('ArrowRight', 8));
        timings.nextPage = percentiles(await strip('PageDown', 4));
        await page.keyboard.press('ArrowLeft');

        // 7. five cards labeled by hotkey: each stored as guided, with the category and the epoch seen
        const guidedKeys = [];
        const guidedCategory = {};
        for (let i = 0; i < 5; i += 1) {
            const key = await until('a focused card', focusedKey);
            const hotkey = i % 2 ? '2' : '1';
            guidedKeys.push(key);
            guidedCategory[key] = hotkey === '1' ? tumor : stroma;
            await page.keyboard.press(hotkey);
            await until('the next card', async () => (await focusedKey()) !== key);
        }
        await until('the five cards stored', async () => {
            const labels = await myLabels();
            return guidedKeys.every((key) => labels[key]);
        });
        stored = await myLabels();
        check(guidedKeys.every((key) => stored[key].source === 'guided' && stored[key].categoryId === guidedCategory[key] &&
            stored[key].epoch === epoch1), `five guided labels with their hotkey category and epoch ${epoch1}`,
        guidedKeys.map((key) => stored[key]));
        await shot('guided-08-hotkeys.png');

        // Ctrl-Z in the strip: the last card's label goes on the server, the card comes back focused with its
        // picture and the strip's count goes up by one; its hotkey labels it again
        const lastCard = guidedKeys[guidedKeys.length - 1];
        const toLabel = async () => Number((await page.locator('.h-hl-film-title').innerText()).match(/^(\d+)/)[1]);
        const countBefore = await toLabel();
        const undoCard = page.waitForResponse((resp) => resp.url().includes(`/${project}/label/undo`));
        await page.keyboard.press('Control+z');
        check((await undoCard).status() === 200, 'Ctrl-Z in the strip posts the undo');
        await until('the undone card back in the strip, focused, with its picture', async () => (await focusedKey()) === lastCard, 30000);
        check(!(lastCard in await myLabels()), 'the server no longer holds the undone card\'s label');
        check(await toLabel() === countBefore + 1, `the strip counts ${countBefore + 1} cards to label again`);
        await shot('guided-08-undo-card.png');
        await page.keyboard.press(guidedCategory[lastCard] === tumor ? '1' : '2');
        await until('the card labeled again', async () => {
            const labels = await myLabels();
            return labels[lastCard] && labels[lastCard].categoryId === guidedCategory[lastCard];
        });
        stored = await myLabels();

        // 8. a retrain while labeling: the strip stays usable, then refreshes to epoch 2
        await page.click('.h-hl-training-retrain');
        await page.waitForSelector('.h-hl-training-running');
        const whileTraining = [];
        for (let i = 0; i < 3 && await page.locator('.h-hl-training-running').count(); i += 1) {
            const key = await until('a focused card while training', focusedKey);
            whileTraining.push(key);
            await page.keyboard.press('2');
            await until('the next card while training', async () => (await focusedKey()) !== key);
            if (i === 0) {
                await shot('guided-09-retraining.png');
            }
        }
        check(whileTraining.length >= 1, `${whileTraining.length} cards labeled while the model trained`);
        await waitEpoch(epoch1 + 1);
        await page.locator('.h-hl-epoch', {hasText: `epoch ${epoch1 + 1}`}).waitFor();
        await until('the refreshed strip', focusedKey);
        stored = await myLabels();
        check(whileTraining.every((key) => stored[key] && stored[key].categoryId === stroma && stored[key].source === 'guided' &&
            stored[key].epoch === epoch1), `labels written during training are stored (epoch ${epoch1} seen)`);
        const shown = await page.$$eval('.h-hl-film-card', (nodes) => nodes.map((n) => n.dataset.key));
        check(shown.length && shown.every((key) => !stored[key]), 'the refreshed strip shows only unlabeled superpixels', shown);
        const ranked = (await api(`${project}/next?limit=200`)).map(keyOf);
        check(shown.every((key) => ranked.includes(key)), `the strip shows cards of the epoch ${epoch1 + 1} ranking`, shown);
        await settle();
        await shot('guided-10-epoch2.png');

        // 9. review mode filtered by this labeler shows exactly the labels written
        await page.click('.h-hl-tab-review');
        await page.waitForSelector('.h-hl-filter-labelerId');
        await page.selectOption('.h-hl-filter-limit', '96');
        await until('my name in the labeler filter', () => page.$eval('.h-hl-filter-labelerId',
            (select, id) => [...select.options].some((o) => o.value === id), me._id));
        await page.selectOption('.h-hl-filter-labelerId', me._id);
        const expectedKeys = Object.keys(stored).sort();
        const written = [...new Set([...Object.keys(clicked), ...guidedKeys, ...whileTraining])].sort();
        check(JSON.stringify(expectedKeys) === JSON.stringify(written),
            `the server holds exactly the ${written.length} labels written (clicks, cards; not the undone stroke)`);
        const reviewKeys = () => page.$$eval('.h-hl-review-card', (nodes) => nodes.map((n) => n.dataset.key).sort());
        await until('the review grid of my labels', async () => JSON.stringify(await reviewKeys()) === JSON.stringify(expectedKeys), 60000)
            .catch(async (err) => {
                throw new Error(`${err.message}: grid ${JSON.stringify(await reviewKeys())} vs stored ${JSON.stringify(expectedKeys)}`);
            });
        const queue = await api(`${project}/review/queue?labelerId=${me._id}&limit=0`);
        check(queue.total === expectedKeys.length && JSON.stringify(queue.rows.map(keyOf).sort()) === JSON.stringify(expectedKeys),
            `the review grid shows exactly my ${expectedKeys.length} labels, as the server's queue`);
        await page.waitForFunction(() => [...document.querySelectorAll('.h-hl-review-card img')].every((img) => img.complete));
        await shot('guided-11-review.png');

        // HistomicsUI's toast of the training job follows the job to its end (it used to stay at 70%)
        const trainingJob = (await api(`${project}/status`)).training.jobId;
        const jobEnded = Date.now();
        await until('the training job ended', async () => [3, 4, 5].includes((await api(`job/${trainingJob}`)).status));
        const toastText = () => page.locator('#g-app-progress-container').innerText();
        await until('the job toast at its end', async () => !/\d%/.test(await toastText()), 30000)
            .catch(async (err) => {
                throw new Error(`${err.message}: ${await toastText()}`);
            });
        console.log(`ok: the job toast ended with the job (${Date.now() - jobEnded} ms after the review screenshot)`);

        // click timings recorded by the view (performance.measure)
        const measures = await page.evaluate(() => performance.getEntriesByType('measure').map((m) => [m.name, m.duration]));
        timings.clickToColour = percentiles(measures.filter((m) => m[0].endsWith('click-to-colour')).map((m) => m[1]));
        timings.clickToAcknowledged = percentiles(measures.filter((m) => m[0].endsWith('click-to-acknowledged')).map((m) => m[1]));
        const panelError = await page.evaluate(() => (document.querySelector('.h-hl-error') || {}).innerText || null);
        if (panelError) {
            errors.push(`panel error: ${panelError}`);
        }
        timings.loadAverage = os.loadavg().map((v) => +v.toFixed(2)); // a shared 2-core machine: say how busy it was
        fs.writeFileSync(path.join(artifacts, 'guided_timings.json'), JSON.stringify(timings, null, 1));
        fs.writeFileSync(path.join(artifacts, 'guided_summary.json'), JSON.stringify(
            {finalKeys: expectedKeys, guidedKeys: guidedKeys.concat(whileTraining), screenshots, errors}, null, 1));
        console.log(`load average ${timings.loadAverage.join(' ')}`);
        for (const [name, t] of Object.entries(timings).filter(([, t]) => t.n !== undefined)) {
            console.log(`timing ${name}: n=${t.n} p50=${t.p50} p95=${t.p95} max=${t.max} ms`);
        }
        check(!errors.length, 'no page errors', errors);
        console.log('guided_labeling passed');
    } finally {
        await browser.close();
    }
}

main().catch((err) => {
    console.error(`guided_labeling failed: ${err.stack || err.message}`);
    process.exit(1);
});
