// Helpers shared by the film strip and the review grid: superpixel keys, categories after merges, picture
// preloading, grouping by slide for one request per slide, and user names.
import $ from 'jquery';
import Vue from 'vue';

import * as rest from '../rest';
import store from '../store';

export const CARD_IMAGE_SIZE = 160;

export function cardKey(card) {
    return `${card.itemId}:${card.superpixel}`;
}

// The category with this id, following merges to the one that absorbed it (null if unknown).
export function resolveCategory(categoryId) {
    const byId = {};
    store.categories.forEach((category) => {
        byId[category._id] = category;
    });
    let category = byId[categoryId] || null;
    for (let hops = 0; category && category.mergedInto && hops < 20; hops += 1) {
        category = byId[category.mergedInto] || null;
    }
    return category;
}

export function cardImageUrl(card) {
    return rest.superpixelImageUrl(store.project._id, card.itemId, card.superpixel, CARD_IMAGE_SIZE);
}

// Load the cards' pictures into the browser cache; resolves when every one has loaded or failed, with the
// cards whose picture failed.
export function preloadImages(cards) {
    const done = $.Deferred();
    const failed = [];
    let left = cards.length;
    const settle = () => {
        left -= 1;
        if (!left) {
            done.resolve(failed);
        }
    };
    if (!left) {
        return done.resolve(failed).promise();
    }
    cards.forEach((card) => {
        const image = new Image();
        image.onload = settle;
        image.onerror = () => {
            failed.push(card);
            settle();
        };
        image.src = cardImageUrl(card);
    });
    return done.promise();
}

// {itemId: [entries]} of entries that carry an itemId, in first-seen order.
export function bySlide(entries) {
    const groups = {};
    entries.forEach((entry) => {
        (groups[entry.itemId] = groups[entry.itemId] || []).push(entry);
    });
    return groups;
}

export function slideName(itemId) {
    const slide = ((store.status && store.status.slides) || []).find((entry) => entry.itemId === itemId);
    return slide ? slide.name : itemId;
}

// User names by id, filled on demand (GET user/{id}) and shared by every card.
export const userNames = Vue.observable({});

export function loadUserNames(userIds) {
    const wanted = [...new Set(userIds)].filter((id) => id && !(id in userNames));
    wanted.forEach((id) => Vue.set(userNames, id, id.slice(-6)));
    return $.when(...wanted.map((id) => rest.getUser(id).done((user) => {
        userNames[id] = `${user.firstName} ${user.lastName}`.trim() || user.login;
    }).fail((xhr) => {
        userNames[id] = `user …${id.slice(-6)} (${(xhr.responseJSON || {}).message || 'unknown'})`;
    })));
}

// A promise resolved once every one of `requests` has succeeded or failed (jQuery's $.when stops at the first
// failure), with how many failed.
export function settleAll(requests) {
    const done = $.Deferred();
    let left = requests.length;
    let failed = 0;
    if (!left) {
        return done.resolve(0).promise();
    }
    requests.forEach((request) => request.fail(() => {
        failed += 1;
    }).always(() => {
        left -= 1;
        if (!left) {
            done.resolve(failed);
        }
    }));
    return done.promise();
}
