// Issue 11: the Model tab of the Guided Labeling panel, in Debian's chromium with playwright-core.
// Usage: node model_quality.mjs BASE_URL LOGIN PASSWORD PROJECT_ID ITEM_ID ARTIFACT_DIR
// Opens the project on its slide, switches to the Model tab, waits for the learning curve, then reads what the
// page shows: the Chart.js chart's datasets (from the chart object of the LearningCurve component), the
// figures, the confusion matrix, the stopping hint and the guardrail rows; then clicks Retrain and reads the
// chart again once the new epoch's point has arrived. Writes them to
// ARTIFACT_DIR/model_quality_summary.json (the pytest compares them with the REST API) and saves
// ARTIFACT_DIR/model-quality.png.
import fs from 'node:fs';
import path from 'node:path';
import {chromium} from 'playwright-core';

import {CHROMIUM_FLAGS, girderToken} from './e2e.mjs';

const [baseUrl, login, password, projectId, itemId, artifacts] = process.argv.slice(2);
const LONG = 120000; // generous: a loaded 2-core machine

// Everything the Model tab shows, read from the page.
function readModelTab() {
    const text = (el) => (el ? el.textContent.trim().replace(/\s+/g, ' ') : null);
    const chart = document.querySelector('.h-hl-learning-curve').__vue__.chart;
    const matrix = document.querySelector('.h-hl-confusion');
    const guardrails = document.querySelector('.h-hl-guardrail-table');
    return {
        chart: Object.fromEntries(chart.data.datasets.map((d) => [d.label, d.data.map((p) => [p.x, p.y])])),
        figures: Object.fromEntries(['accuracy', 'f1', 'evaluated', 'folds'].map(
            (key) => [key, text(document.querySelector(`.h-hl-quality-${key}`))])),
        matrix: {
            columns: [...matrix.querySelectorAll('.h-hl-confusion-column')].map(text),
            rows: [...matrix.querySelectorAll('.h-hl-confusion-row')].map(text),
            cells: [...matrix.querySelectorAll('tbody tr')].map((row) => [...row.querySelectorAll('td')].map(
                (cell) => Number(text(cell))))
        },
        stop: document.querySelector('.h-hl-quality-stop')
            ? text(document.querySelector('.h-hl-quality-stop')).replace(/^The curve has flattened: /, '')
            : null,
        hint: text(document.querySelector('.h-hl-quality-hint')),
        guardrails: guardrails
            ? [...guardrails.querySelectorAll('tbody tr')].map((row) => {
                const [name, known, accepted] = [...row.querySelectorAll('td')].map(text);
                return {name, known, accepted, warning: row.classList.contains('h-hl-guardrail-warning')};
            })
            : null
    };
}

async function main() {
    fs.mkdirSync(artifacts, {recursive: true});
    const token = await girderToken(baseUrl, login, password);
    const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
    const browser = await chromium.launch({executablePath, args: CHROMIUM_FLAGS});
    const errors = [];
    try {
        const context = await browser.newContext({viewport: {width: 1400, height: 1000}});
        await context.addInitScript((t) => window.localStorage.setItem('girderToken', t), token);
        await context.addCookies([{name: 'girderToken', value: token, url: baseUrl}]);
        const page = await context.newPage();
        page.setDefaultTimeout(LONG);
        page.on('pageerror', (err) => errors.push(err.message));
        await page.goto(`${baseUrl}/histomics#?image=${itemId}&hlProject=${projectId}`);
        await page.click('.h-hl-labeling-panel .h-hl-tab-model');
        await page.waitForSelector('.h-hl-learning-curve canvas');
        await page.waitForSelector('.h-hl-confusion tbody tr');
        await page.waitForLoadState('networkidle', {timeout: LONG}).catch(() => null);
        const shown = await page.evaluate(readModelTab);
        console.log(`chart: ${JSON.stringify(shown.chart)}`);
        console.log(`figures: ${JSON.stringify(shown.figures)}`);
        await page.screenshot({path: path.join(artifacts, 'model-quality.png')});
        await page.locator('.h-hl-labeling-panel').screenshot({path: path.join(artifacts, 'model-quality-panel.png')});
        // a retrain from the tab: the new epoch's point joins the curve without a reload ('epoch-changed', then
        // polling until its quality is measured)
        const points = () => page.evaluate(
            () => document.querySelector('.h-hl-learning-curve').__vue__.chart.data.datasets[0].data.length);
        const before = await points();
        await page.click('.h-hl-training-retrain');
        const deadline = Date.now() + LONG;
        while (await points() === before && Date.now() < deadline) {
            await page.waitForTimeout(300);
        }
        const afterRetrain = (await page.evaluate(readModelTab)).chart;
        console.log(`after a retrain: ${JSON.stringify(afterRetrain)}`);
        const summary = JSON.stringify({...shown, afterRetrain, errors}, null, 1);
        fs.writeFileSync(path.join(artifacts, 'model_quality_summary.json'), summary);
    } finally {
        await browser.close();
    }
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
