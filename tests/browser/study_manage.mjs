// Issue 12's study-management panels in Debian's chromium with playwright-core.
// Usage: node study_manage.mjs BASE_URL LEAD_LOGIN LEAD_PASSWORD RATER_LOGIN RATER_PASSWORD PROJECT_ID ITEM_ID ARTIFACT_DIR
// As the lead (Manage tab): give the rater the expert role, create an assignment of the slide to them. As the
// rater: no Manage tab, "Assigned to you" above the guided strip, whose cards are the queue's, three labeled by
// hotkey. As the lead again: an export runs to its end and lists its files; model output uploaded as GeoJSON is
// imported for the slide. After each step it checks what the server holds (REST) and saves a screenshot
// (ARTIFACT_DIR/manage-*.png); ARTIFACT_DIR/manage_summary.json records the labels and files for the pytest side.
import fs from 'node:fs';
import path from 'node:path';

import {chromium} from 'playwright-core';

import {CHROMIUM_FLAGS, check, girderToken, until as poll} from './e2e.mjs';

const [baseUrl, leadLogin, leadPassword, raterLogin, raterPassword, projectId, itemId, artifacts] = process.argv.slice(2);
const LONG = 90000;
const project = `histomics_label/project/${projectId}`;
const screenshots = [];
const errors = [];
const keyOf = (row) => `${row.itemId}:${row.superpixel}`;

// polling up to 90 s unless told
function until(what, probe, timeout = LONG) {
    return poll(what, probe, timeout);
}

// A logged-in user: REST calls with their token and a browser page on the project's slide.
async function session(browser, login, password) {
    const token = await girderToken(baseUrl, login, password);
    console.log(`ok: ${login} logs in`);
    const api = async (route) => {
        const answer = await fetch(`${baseUrl}/api/v1/${route}`, {headers: {'Girder-Token': token}});
        if (!answer.ok) {
            throw new Error(`GET ${route} as ${login}: HTTP ${answer.status} ${await answer.text()}`);
        }
        return answer.json();
    };
    const context = await browser.newContext({viewport: {width: 1400, height: 900}});
    await context.addInitScript((t) => window.localStorage.setItem('girderToken', t), token);
    await context.addCookies([{name: 'girderToken', value: token, url: baseUrl}]);
    const page = await context.newPage();
    page.setDefaultTimeout(LONG);
    page.on('pageerror', (err) => errors.push(`${login}: ${err.message}`));
    await page.goto(`${baseUrl}/histomics#?image=${itemId}&hlProject=${projectId}`);
    await page.waitForSelector('.h-hl-labeling-panel .h-hl-tabs');
    const shot = async (name) => {
        await page.waitForLoadState('networkidle', {timeout: 20000}).catch(() => null);
        await page.screenshot({path: path.join(artifacts, name)});
        screenshots.push(name);
        console.log(`screenshot ${path.join(artifacts, name)}`);
    };
    const panelError = () => page.evaluate(() => (document.querySelector('.h-hl-error') || {}).innerText || null);
    return {api, page, shot, panelError, me: await api('user/me')};
}

async function main() {
    fs.mkdirSync(artifacts, {recursive: true});
    const browser = await chromium.launch({executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_FLAGS});
    try {
        const lead = await session(browser, leadLogin, leadPassword);
        const {page} = lead;
        const raterId = (await lead.api('user?limit=0')).find((user) => user.login === raterLogin)._id;

        // 1. the lead adds the rater by login search and makes them an expert
        await page.click('.h-hl-tab-manage');
        await page.fill('.h-hl-member-search', raterLogin.slice(0, 4));
        await page.click(`.h-hl-member-found a[data-login="${raterLogin}"]`);
        const row = page.locator(`.h-hl-members-table tr[data-login="${raterLogin}"]`);
        await row.locator('.h-hl-role-trainee').uncheck();
        await row.locator('.h-hl-role-expert').check();
        await page.click('.h-hl-members-save');
        await page.waitForSelector('.h-hl-members-saved');
        const study = await lead.api(`${project}/study`);
        const member = study.members.find((m) => m.userId === raterId);
        check(member && JSON.stringify(member.roles) === '["expert"]', 'the server holds the rater as an expert', study.members);
        await lead.shot('manage-01-members.png');

        // 2. an assignment of the slide to the rater: 30 superpixels, seed 7
        await page.click('.h-hl-assignment-new summary');
        await page.fill('.h-hl-assignment-name', 'Round 1');
        await page.check(`.h-hl-assignment-rater[data-login="${raterLogin}"]`);
        await page.fill('.h-hl-assignment-quota', '30');
        await page.fill('.h-hl-assignment-seed', '7');
        await page.fill('.h-hl-assignment-overlap', '2'); // more raters per slide than raters: refused
        await page.click('.h-hl-assignment-create');
        const refusal = await page.innerText('.h-hl-assignments .h-hl-manage-failure');
        check(/Creating the assignment failed: .*overlap/i.test(refusal), 'an overlap above the raters is refused beside the form', refusal);
        check(!(await lead.api(`${project}/assignment`)).length, 'the refused assignment wrote nothing');
        await page.fill('.h-hl-assignment-overlap', '1');
        await page.click('.h-hl-assignment-create');
        await page.waitForSelector('.h-hl-assignment[data-name="Round 1"] .h-hl-assignment-raters');
        const assignments = await lead.api(`${project}/assignment`);
        check(assignments.length === 1 && assignments[0].name === 'Round 1' && assignments[0].quota === 30 &&
            assignments[0].seed === 7 && JSON.stringify(assignments[0].userIds) === JSON.stringify([raterId]) &&
            assignments[0].slides[0].count === 30, 'the server holds the assignment', assignments);
        const shownRaters = await page.innerText('.h-hl-assignment[data-name="Round 1"] .h-hl-assignment-raters');
        check(shownRaters.trim() === raterLogin, 'the panel lists the rater of the slide', shownRaters);
        await lead.shot('manage-02-assignment.png');

        // 3. the rater: no Manage tab; "Assigned to you" and the strip fed from the queue; three cards labeled
        const rater = await session(browser, raterLogin, raterPassword);
        const raterPage = rater.page;
        check(!(await raterPage.locator('.h-hl-tab-manage').count()), 'the rater has no Manage tab');
        await raterPage.click('.h-hl-tab-guided');
        const queueText = () => raterPage.innerText('.h-hl-my-queue-text').catch(() => '');
        await until('"Assigned to you: 30 remaining of 30"', async () => /Assigned to you: 30 remaining of 30/.test(await queueText()));
        const queue = await rater.api(`${project}/queue?limit=30`);
        check(queue.assigned === 30 && queue.remaining === 30 && queue.rows.length === 30, 'the rater\'s queue on the server', queue);
        const queued = queue.rows.map(keyOf);
        const shownKeys = () => raterPage.$$eval('.h-hl-film-card', (nodes) => nodes.map((n) => n.dataset.key));
        await until('cards on the strip', async () => (await shownKeys()).length);
        const firstPage = await shownKeys();
        check(JSON.stringify(firstPage) === JSON.stringify(queued.slice(0, firstPage.length)),
            `the strip's ${firstPage.length} cards are the queue's first, in order`, {firstPage, queued});
        await rater.shot('manage-03-queue.png');
        const labeled = [];
        for (let i = 0; i < 3; i += 1) {
            const focused = await raterPage.getAttribute('.h-hl-film-card.h-hl-focused', 'data-key');
            labeled.push(focused);
            await raterPage.keyboard.press('1');
            await until('the next card', async () => (await raterPage.getAttribute('.h-hl-film-card.h-hl-focused', 'data-key')) !== focused);
        }
        check(JSON.stringify(labeled) === JSON.stringify(queued.slice(0, 3)), 'the rater labeled the queue\'s first three');
        await until('"27 remaining of 30"', async () => /Assigned to you: 27 remaining of 30/.test(await queueText()));
        const after = await rater.api(`${project}/queue?limit=30`);
        check(after.done === 3 && after.remaining === 27 && after.rows.every((r) => !labeled.includes(keyOf(r))),
            'the server counts three done, 27 remaining', after);
        await rater.shot('manage-04-queue-progress.png');

        // 4. the lead exports; the job runs to its end and the export's files are listed
        await page.click('.h-hl-export-start');
        await page.waitForSelector('.h-hl-export-job');
        await until('the export job finished', async () => {
            const text = await page.innerText('.h-hl-export-job-text');
            if (/^(failed|canceled)/.test(text)) {
                throw new Error(`the export job ${text}; ${await lead.panelError()}`);
            }
            return /^finished/.test(text);
        }, 120000);
        await until('the export\'s files', async () => (await page.locator('.h-hl-export-file').count()) >= 5);
        const files = await page.$$eval('.h-hl-export-file', (nodes) => nodes.map((n) => n.innerText));
        const exports = await lead.api(`${project}/export`);
        check(exports.length === 1 && exports[0].counts.labels === 3, 'the server lists one export of the three labels', exports);
        for (const name of ['geojson.zip', 'coco.json', 'superpixels.parquet', 'manifest.json']) {
            check(files.includes(name), `the export lists ${name}`, files);
        }
        check(files.some((name) => /^masks\/.*\.mask\.tiff$/.test(name)), 'the export lists the slide\'s mask', files);
        await page.locator('.h-hl-export-panel').scrollIntoViewIfNeeded();
        await lead.shot('manage-05-export.png');

        // 5. the lead uploads model output (one GeoJSON polygon over the whole slide) and imports it
        const tiles = await lead.api(`item/${itemId}/tiles`);
        const geojson = path.join(artifacts, 'manage-model-output.geojson');
        const [w, h] = [tiles.sizeX, tiles.sizeY];
        fs.writeFileSync(geojson, JSON.stringify({
            type: 'FeatureCollection',
            features: [{
                type: 'Feature',
                properties: {category: 'Stroma', certainty: 0.8},
                geometry: {type: 'Polygon', coordinates: [[[0, 0], [w, 0], [w, h], [0, h], [0, 0]]]}
            }]
        }));
        await page.setInputFiles('.h-hl-import-upload-input', geojson);
        await until('the uploaded file picked', async () => (await page.inputValue('.h-hl-import-file')) !== '');
        await page.fill('.h-hl-import-name', 'test model');
        await page.click('.h-hl-import-start');
        const result = await page.innerText('.h-hl-import-result');
        const imported = await lead.api(`${project}/slide/${itemId}/import?name=test%20model&limit=1`);
        const superpixels = imported.sources[0].superpixels;
        check(imported.total === superpixels && result.includes(`${superpixels} of ${superpixels} superpixels covered`) &&
            result.includes('Stroma'), `the import covered all ${superpixels} superpixels, as the panel says`, result);
        await page.locator('.h-hl-import-result').scrollIntoViewIfNeeded();
        await lead.shot('manage-06-import.png');

        for (const session_ of [lead, rater]) {
            const shown = await session_.panelError();
            if (shown) {
                errors.push(`panel error: ${shown}`);
            }
        }
        fs.writeFileSync(path.join(artifacts, 'manage_summary.json'), JSON.stringify(
            {labeled, files, screenshots, errors}, null, 1));
        check(!errors.length, 'no page or panel errors', errors);
        console.log('study_manage passed');
    } finally {
        await browser.close();
    }
}

main().catch((err) => {
    console.error(`study_manage failed: ${err.stack || err.message}`);
    process.exit(1);
});
