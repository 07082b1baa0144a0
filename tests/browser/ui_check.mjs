// Drive Debian's chromium with playwright-core against a running Histomics Label server.
// Usage: node ui_check.mjs BASE_URL LOGIN PASSWORD ITEM_ID ARTIFACT_DIR
// Logs in, opens the slide in HistomicsUI and our plugin's page, asserts what is visible and saves
// screenshots. Exits non-zero with a message on the first failed check.
import fs from 'node:fs';
import path from 'node:path';
import {chromium} from 'playwright-core';

const [baseUrl, login, password, itemId, artifacts] = process.argv.slice(2);
const CHROMIUM_FLAGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic',
    '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'
];

async function girderToken() {
    const auth = Buffer.from(`${login}:${password}`).toString('base64');
    const resp = await fetch(`${baseUrl}/api/v1/user/authentication`, {headers: {Authorization: `Basic ${auth}`}});
    if (!resp.ok) {
        throw new Error(`login failed: HTTP ${resp.status}`);
    }
    return (await resp.json()).authToken.token;
}

async function shot(page, name) {
    const file = path.join(artifacts, name);
    await page.screenshot({path: file});
    console.log(`screenshot ${file}`);
}

async function main() {
    fs.mkdirSync(artifacts, {recursive: true});
    const token = await girderToken();
    const browser = await chromium.launch({executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_FLAGS});
    const errors = [];
    try {
        const context = await browser.newContext({viewport: {width: 1400, height: 900}});
        await context.addInitScript((t) => window.localStorage.setItem('girderToken', t), token);
        await context.addCookies([{name: 'girderToken', value: token, url: baseUrl}]);
        const page = await context.newPage();
        page.on('pageerror', (err) => errors.push(err.message));

        // 1. the slide in HistomicsUI: tiles served and drawn, the Tissue annotation listed and shown
        let tiles = 0;
        page.on('response', (resp) => {
            if (resp.url().includes(`/item/${itemId}/tiles/zxy/`) && resp.status() === 200) {
                tiles += 1;
            }
        });
        await page.goto(`${baseUrl}/histomics#?image=${itemId}`);
        await page.waitForSelector('.h-image-view-body canvas', {timeout: 60000});
        await page.waitForFunction(() => !document.querySelector('.image-viewer-loading:not(.hidden)'), null, {timeout: 60000});
        const breadcrumb = await page.textContent('#g-app-header-container');
        if (!breadcrumb.includes('CMU-1-Small-Region.svs')) {
            throw new Error('the slide name is not in the HistomicsUI header');
        }
        await page.click('.h-annotation-group[data-group-name="Other"] .h-annotation-group-name');
        const tissue = page.locator('.h-annotation', {has: page.locator('.h-annotation-name', {hasText: 'Tissue'})});
        await tissue.waitFor({timeout: 30000});
        if (await tissue.locator('.icon-eye-off').count()) {
            await tissue.locator('.h-toggle-annotation').click();
        }
        await tissue.locator('.icon-eye').waitFor({timeout: 30000});
        await page.waitForTimeout(2000);
        if (tiles < 4) {
            throw new Error(`only ${tiles} tiles were served to HistomicsUI`);
        }
        await shot(page, 'histomicsui-slide.png');

        // 2. our route inside HistomicsUI
        await page.goto(`${baseUrl}/histomics#histomics-label`);
        await page.waitForSelector('.h-hl-home .h-hl-cli', {timeout: 30000});
        const heading = await page.textContent('.h-hl-home .h-hl-title');
        const clis = await page.$$eval('.h-hl-cli b', (nodes) => nodes.map((n) => n.textContent.trim()));
        await shot(page, 'histomics-label-home.png');
        if (heading.trim() !== 'Histomics Label' || !clis.includes('Tissue Detection')) {
            throw new Error(`our page shows ${JSON.stringify({heading, clis})}`);
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
