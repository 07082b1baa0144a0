// Drive Debian's chromium with playwright-core against a running Histomics Label server.
// Usage: node ui_check.mjs BASE_URL LOGIN PASSWORD ITEM_ID ARTIFACT_DIR [PIXELMAPS_JSON]
// Logs in, opens the slide in HistomicsUI and our plugin's page, asserts what is visible and saves
// screenshots. PIXELMAPS_JSON ({"annotation name": "screenshot.png"}) shows each of those pixelmap annotations
// alone on the slide and checks that its label image's tiles were drawn. Exits non-zero with a message on the
// first failed check.
import fs from 'node:fs';
import path from 'node:path';
import {chromium} from 'playwright-core';

import {CHROMIUM_FLAGS, girderToken} from './e2e.mjs';

const [baseUrl, login, password, itemId, artifacts, pixelmapsJson] = process.argv.slice(2);

async function shot(page, name) {
    const file = path.join(artifacts, name);
    await page.screenshot({path: file});
    console.log(`screenshot ${file}`);
}

// Open the slide in HistomicsUI and wait for it to be drawn; returns a counter of the tiles served, by item id.
async function openSlide(page) {
    const tiles = {};
    page.on('response', (resp) => {
        const match = resp.url().match(/\/item\/([0-9a-f]{24})\/tiles\/zxy\//);
        if (match && resp.status() === 200) {
            tiles[match[1]] = (tiles[match[1]] || 0) + 1;
        }
    });
    await page.goto(`${baseUrl}/histomics#?image=${itemId}`);
    await page.waitForSelector('.h-image-view-body canvas', {timeout: 60000});
    await page.waitForFunction(() => !document.querySelector('.image-viewer-loading:not(.hidden)'), null, {timeout: 60000});
    return tiles;
}

// Expand every annotation group, then show the annotation named `name` and hide the others.
async function showOnly(page, name) {
    const target = page.locator('.h-annotation-name', {hasText: name}).first();
    for (let attempt = 0; attempt < 50 && !(await target.count()); attempt += 1) {
        for (const group of await page.locator('.h-annotation-group-name').all()) {
            if (!(await group.locator('xpath=..').locator('.h-annotation').count())) {
                await group.click();
            }
        }
        await page.waitForTimeout(200);
    }
    for (const annotation of await page.locator('.h-annotation').all()) {
        const label = (await annotation.locator('.h-annotation-name').textContent()).trim();
        const shown = (await annotation.locator('.icon-eye').count()) > 0;
        if ((label === name) !== shown) {
            await annotation.locator('.h-toggle-annotation').click();
        }
    }
    const wanted = page.locator('.h-annotation', {has: page.locator('.h-annotation-name', {hasText: name})});
    await wanted.locator('.icon-eye').waitFor({timeout: 30000});
}

async function main() {
    fs.mkdirSync(artifacts, {recursive: true});
    const token = await girderToken(baseUrl, login, password);
    const browser = await chromium.launch({executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_FLAGS});
    const errors = [];
    try {
        const context = await browser.newContext({viewport: {width: 1400, height: 900}});
        await context.addInitScript((t) => window.localStorage.setItem('girderToken', t), token);
        await context.addCookies([{name: 'girderToken', value: token, url: baseUrl}]);
        const page = await context.newPage();
        page.on('pageerror', (err) => errors.push(err.message));

        // 1. the slide in HistomicsUI: tiles served and drawn, the Tissue annotation listed and shown
        const tiles = await openSlide(page);
        const breadcrumb = await page.textContent('#g-app-header-container');
        if (!breadcrumb.includes('CMU-1-Small-Region.svs')) {
            throw new Error('the slide name is not in the HistomicsUI header');
        }
        await showOnly(page, 'Tissue');
        await page.waitForTimeout(2000);
        if ((tiles[itemId] || 0) < 4) {
            throw new Error(`only ${tiles[itemId] || 0} tiles were served to HistomicsUI`);
        }
        await shot(page, 'histomicsui-slide.png');

        // the project's pixelmaps (labels, predictions): each alone on the slide, drawn from its label image
        for (const [name, screenshot] of Object.entries(JSON.parse(pixelmapsJson || '{}'))) {
            const pixelmapPage = await context.newPage();
            pixelmapPage.on('pageerror', (err) => errors.push(err.message));
            const served = await openSlide(pixelmapPage);
            await showOnly(pixelmapPage, name);
            const deadline = Date.now() + 30000;
            const labelTiles = () => Object.entries(served).filter(([id]) => id !== itemId).reduce((sum, [, n]) => sum + n, 0);
            while (labelTiles() < 1 && Date.now() < deadline) {
                await pixelmapPage.waitForTimeout(250);
            }
            if (labelTiles() < 1) {
                throw new Error(`no label-image tiles were drawn for the pixelmap ${name}`);
            }
            await pixelmapPage.waitForTimeout(2000);
            await shot(pixelmapPage, screenshot);
            console.log(`${name}: ${labelTiles()} pixelmap tiles drawn`);
            await pixelmapPage.close();
        }

        // 2. our route inside HistomicsUI: the project list, the demo project with its progress
        await page.goto(`${baseUrl}/histomics#histomics-label`);
        await page.waitForSelector('.h-hl-projects .h-hl-project-row .h-hl-progress-text', {timeout: 30000});
        const heading = await page.textContent('.h-hl-projects .h-hl-title');
        const projects = await page.$$eval('.h-hl-project-name', (nodes) => nodes.map((n) => n.textContent.trim()));
        const progress = await page.textContent('.h-hl-project-row .h-hl-progress-text');
        await shot(page, 'histomics-label-home.png');
        if (heading.trim() !== 'Histomics Label' || !projects.includes('Demo') || !/1 segmented, 1 featurized/.test(progress)) {
            throw new Error(`our page shows ${JSON.stringify({heading, projects, progress})}`);
        }
        if (errors.length) {
            throw new Error(`page errors: ${errors.join('; ')}`);
        }
        console.log('ui_check passed');
    } finally {
        await browser.close();
    }
}

main().catch((err) => {
    console.error(`ui_check failed: ${err.message}`);
    process.exit(1);
});
