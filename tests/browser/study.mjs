// The Study tab of the Guided Labeling panel in Debian's chromium with playwright-core (issue 12).
// Usage: node study.mjs BASE_URL LOGIN PASSWORD PROJECT_ID ITEM_ID ARTIFACT_DIR EXPECT
// EXPECT 'study': open the Study tab, read the figures it shows (dashboard totals and raters, Fleiss' kappa,
// Krippendorff's alpha, Cohen's kappa per pair) and save ARTIFACT_DIR/study-dashboard.png (the view) and
// study-agreement.png (the agreement panel). EXPECT 'no-study': the panel must have no Study tab.
// Prints a JSON summary as its last line: {tabs, shown, refreshStatus (the Refresh button's request), errors}.
import path from 'node:path';
import {chromium} from 'playwright-core';

import {CHROMIUM_FLAGS, girderToken} from './e2e.mjs';

const [baseUrl, login, password, projectId, itemId, artifacts, expect] = process.argv.slice(2);
const LONG = 90000;

// What the Study tab shows, as text.
async function readStudyTab(page) {
    const text = (selector) => page.locator(selector).first().innerText().then((value) => value.trim());
    const pairs = await page.$$eval('.h-hl-agreement-matrix tr', (rows) => {
        const header = [...rows[0].querySelectorAll('th')].slice(1).map((th) => th.innerText.trim());
        const found = {};
        rows.slice(1).forEach((row) => {
            const name = row.querySelector('th').innerText.trim();
            [...row.querySelectorAll('td')].forEach((td, column) => {
                if (!td.classList.contains('h-hl-pair-empty')) {
                    const shown = [td.querySelector('.h-hl-pair-kappa'), td.querySelector('small')];
                    found[[name, header[column]].sort().join('-')] = shown.map((el) => el.innerText.trim()).join(' | ');
                }
            });
        });
        return found;
    });
    return {
        fleiss: await text('.h-hl-agreement-fleiss .h-hl-stat-value'),
        fleissInterval: await text('.h-hl-agreement-fleiss .h-hl-stat-interval'),
        alpha: await text('.h-hl-agreement-alpha .h-hl-stat-value'),
        items: await text('.h-hl-agreement-items b'),
        labels: await text('.h-hl-dash-total-labels .h-hl-dash-total-value'),
        users: (await page.$$eval('.h-hl-dash-users tbody td:first-child',
            (cells) => cells.map((cell) => cell.firstChild.textContent.trim()))).sort(),
        pairs
    };
}

async function main() {
    const token = await girderToken(baseUrl, login, password);
    const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
    const browser = await chromium.launch({executablePath, args: CHROMIUM_FLAGS});
    const errors = [];
    const summary = {};
    try {
        const context = await browser.newContext({viewport: {width: 1300, height: 1100}});
        await context.addInitScript((t) => window.localStorage.setItem('girderToken', t), token);
        await context.addCookies([{name: 'girderToken', value: token, url: baseUrl}]);
        const page = await context.newPage();
        page.setDefaultTimeout(LONG);
        page.on('pageerror', (err) => errors.push(err.message));
        // the study document decides the tab list: read the tabs once it has arrived
        const studyLoaded = page.waitForResponse((resp) => resp.url().includes(`/project/${projectId}/study`));
        await page.goto(`${baseUrl}/histomics#?image=${itemId}&hlProject=${projectId}`);
        await page.waitForSelector('.h-hl-labeling-panel .h-hl-tabs');
        await page.waitForSelector('.h-image-view-body canvas');
        await studyLoaded;
        await page.waitForLoadState('networkidle').catch(() => null);
        summary.tabs = await page.$$eval('.h-hl-tabs li a', (links) => links.map((a) => a.innerText.trim()));
        console.log(`${login} sees the tabs ${summary.tabs.join(', ')}`);
        if (expect === 'study') {
            await page.click('.h-hl-tab-study');
            await page.waitForSelector('.h-hl-agreement-fleiss .h-hl-stat-value');
            await page.waitForSelector('.h-hl-dash-users tbody tr');
            await page.waitForLoadState('networkidle').catch(() => null);
            summary.shown = await readStudyTab(page);
            console.log(`shown: ${JSON.stringify(summary.shown)}`);
            const refreshed = page.waitForResponse((resp) => resp.url().includes(`/project/${projectId}/dashboard`));
            await page.click('.h-hl-dashboard .h-hl-live-refresh');
            summary.refreshStatus = (await refreshed).status();
            await page.waitForSelector('.h-hl-dashboard .h-hl-live-refresh:not([disabled])');
            // the whole view (dashboard beside the slide), then the agreement panel alone
            await page.screenshot({path: path.join(artifacts, 'study-dashboard.png')});
            await page.locator('.h-hl-agreement').screenshot({path: path.join(artifacts, 'study-agreement.png')});
        } else if (await page.locator('.h-hl-tab-study').count()) {
            throw new Error(`${login} sees a Study tab`);
        }
    } finally {
        await browser.close();
    }
    summary.errors = errors;
    console.log(JSON.stringify(summary));
}

main().catch((err) => {
    console.error(err.stack || err);
    process.exit(1);
});
