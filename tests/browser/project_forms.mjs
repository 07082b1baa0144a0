// Drive chromium through a project's forms: the setup form of a folder (name, categories, settings by model kind,
// a 400 marking its field), the project's settings form, and the categories panel's add and edit controls.
// Usage: node project_forms.mjs BASE_URL TOKEN FOLDER_ID FOLDER_NAME ARTIFACT_DIR
// Checks what the server holds after each step; exits non-zero with a message on the first failed check.
import path from 'node:path';
import {chromium} from 'playwright-core';

const [baseUrl, token, folderId, folderName, artifacts] = process.argv.slice(2);
const api = async (method, path, params) => {
    const url = new URL(`${baseUrl}/api/v1/${path}`);
    Object.entries(params || {}).forEach(([k, v]) => url.searchParams.set(k, v));
    const resp = await fetch(url, {method, headers: {'Girder-Token': token}});
    return resp.json();
};
const check = (ok, what) => {
    if (!ok) {
        throw new Error(what);
    }
    console.log('ok:', what);
};
const browser = await chromium.launch({executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']});
const errors = [];
try {
    const context = await browser.newContext({viewport: {width: 1400, height: 1000}});
    await context.addInitScript((t) => window.localStorage.setItem('girderToken', t), token);
    await context.addCookies([{name: 'girderToken', value: token, url: baseUrl}]);
    const page = await context.newPage();
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${baseUrl}/histomics#histomics-label/new/${folderId}`);
    await page.waitForSelector('.h-hl-setup-form .h-hl-setting-name input', {timeout: 60000});
    await page.waitForFunction((name) => document.querySelector('.h-hl-setting-name input').value === name, folderName);
    check(true, 'the name field holds the folder name');
    const order = await page.$$eval('.h-hl-settings-fields > *', (nodes) => nodes.map((n) => n.tagName === 'H4' ? 'h4:' + n.textContent.trim() : n.className.split(' ').filter((c) => c.startsWith('h-hl-setting-') || c === 'form-group').join(',')));
    console.log(order.join(' | '));
    check(order[0].includes('h-hl-setting-name') && order[1] === 'form-group' && order[2] === 'h4:Superpixels', 'name, then the categories (slot), then Superpixels');
    check(order.includes('h4:Model') && !order.some((o) => o.includes('patchSize')), 'Model section, no patch size for the MLP');
    await page.selectOption('.h-hl-setting-modelKind select', 'cnn');
    check(await page.isVisible('.h-hl-setting-patchSize') && await page.isVisible('.h-hl-setting-modelBackend') && !(await page.isVisible('.h-hl-setting-backbone')), 'CNN: framework and patch size, no backbone');
    await page.selectOption('.h-hl-setting-modelKind select', 'mlp');
    await page.selectOption('.h-hl-setting-backbone select', 'timm');
    check(await page.locator('.h-hl-setting-backbone').count() === 2 && await page.isVisible('.h-hl-setting-weightsPath'), 'timm: model name and weights path');
    await page.selectOption('.h-hl-setting-backbone select', 'efficientnet_lite0');
    await page.fill('.h-hl-setting-radius input', '3');
    const names = page.locator('.h-hl-setup-category-name');
    await names.nth(0).fill('Tumor');
    await names.nth(1).fill('Stroma');
    // the browser's own min check would block submit: bypass it to see the server's 400 mark the field
    await page.$eval('.h-hl-setup-form', (form) => { form.noValidate = true; });
    await page.click('.h-hl-setup-submit');
    await page.waitForSelector('.h-hl-setting-radius.has-error', {timeout: 15000});
    check(true, 'the server 400 on radius marks the radius field');
    await page.fill('.h-hl-setting-radius input', '60');
    await page.fill('.h-hl-setting-name input', 'Forms check');
    await page.click('.h-hl-setup-submit');
    await page.waitForFunction(() => /histomics-label\/project\/[0-9a-f]{24}/.test(window.location.hash), null, {timeout: 30000});
    const projectId = /project\/([0-9a-f]{24})/.exec(page.url())[1];
    const project = await api('GET', `histomics_label/project/${projectId}`);
    check(project.name === 'Forms check' && project.settings.radius === 60 && project.settings.modelKind === 'mlp', `project created: ${project.name}, radius ${project.settings.radius}`);
    let categories = await api('GET', `histomics_label/project/${projectId}/category`);
    check(categories.map((c) => `${c.name}:${c.hotkey}`).join(',') === 'Tumor:1,Stroma:2', 'setup categories with hotkeys 1, 2');

    // settings form
    await page.waitForSelector('.h-hl-settings-button', {timeout: 30000});
    await page.click('.h-hl-settings-button');
    await page.waitForSelector('.h-hl-project-settings .h-hl-setting-name input');
    check(await page.inputValue('.h-hl-project-settings .h-hl-setting-name input') === 'Forms check', 'settings form holds the name');
    check(await page.inputValue('.h-hl-project-settings .h-hl-setting-radius input') === '60', 'settings form holds the radius');
    await page.fill('.h-hl-project-settings .h-hl-setting-name input', 'Forms renamed');
    await page.fill('.h-hl-project-settings .h-hl-setting-retrainInterval input', '7');
    await page.click('.h-hl-save-settings');
    await page.waitForSelector('.h-hl-project-settings', {state: 'detached', timeout: 15000}).catch(() => null);
    await page.waitForTimeout(1000);
    const saved = await api('GET', `histomics_label/project/${projectId}`);
    check(saved.name === 'Forms renamed' && saved.settings.retrainInterval === 7, `settings saved: ${saved.name}, retrain ${saved.settings.retrainInterval}`);

    // categories panel: add with the next free key; taken keys disabled
    await page.waitForSelector('.h-hl-add-category-form .h-hl-new-category-name');
    const disabled = await page.$$eval('.h-hl-add-category-form .h-hl-hotkey-select option', (opts) => opts.filter((o) => o.disabled).map((o) => o.value));
    check(disabled.join(',') === '1,2', `add form: taken keys disabled (${disabled})`);
    check(await page.inputValue('.h-hl-add-category-form .h-hl-hotkey-select') === '3', 'add form: next free key chosen');
    await page.fill('.h-hl-new-category-name', 'Necrosis');
    await page.click('.h-hl-add-category-button');
    await page.waitForFunction(() => [...document.querySelectorAll('.h-hl-category-name')].some((n) => n.textContent.trim() === 'Necrosis'), null, {timeout: 15000});
    categories = await api('GET', `histomics_label/project/${projectId}/category`);
    const necrosis = categories.find((c) => c.name === 'Necrosis');
    check(necrosis && necrosis.hotkey === '3', 'added Necrosis with key 3');
    check(await page.inputValue('.h-hl-new-category-name') === '' && await page.inputValue('.h-hl-add-category-form .h-hl-hotkey-select') === '4', 'add form reset to the next key');
    // edit Tumor: rename, recolour, key 5
    const tumorRow = page.locator('.h-hl-category', {has: page.locator('.h-hl-category-name', {hasText: 'Tumor'})});
    await tumorRow.locator('.h-hl-edit-category').click();
    check(await tumorRow.locator('.h-hl-rename').inputValue() === 'Tumor', 'editor holds the name');
    const rowDisabled = await tumorRow.locator('.h-hl-hotkey-select option').evaluateAll((opts) => opts.filter((o) => o.disabled).map((o) => o.value));
    check(rowDisabled.join(',') === '2,3', `editor: other categories' keys disabled (${rowDisabled})`);
    await tumorRow.locator('.h-hl-rename').fill('Tumour');
    await tumorRow.locator('.h-hl-hotkey-select').selectOption('5');
    await tumorRow.locator('.h-hl-color-input').evaluate((input) => {
        input.value = '#123456';
        input.dispatchEvent(new Event('input', {bubbles: true}));
    });
    await tumorRow.locator('.h-hl-exclude input').check();
    await tumorRow.locator('.h-hl-save-category').click();
    await page.waitForFunction(() => [...document.querySelectorAll('.h-hl-category-name')].some((n) => n.textContent.trim() === 'Tumour'), null, {timeout: 15000});
    categories = await api('GET', `histomics_label/project/${projectId}/category`);
    const tumour = categories.find((c) => c.name === 'Tumour');
    check(tumour && tumour.hotkey === '5' && tumour.fillColor === '#123456' && tumour.excluded === true, `edited: ${JSON.stringify(tumour && [tumour.hotkey, tumour.fillColor, tumour.excluded])}`);
    await page.screenshot({path: path.join(artifacts, 'project-forms.png')});
    check(!errors.length, `no page errors: ${errors.join('; ')}`);
    console.log('project forms check passed');
} catch (err) {
    console.error(`project forms check failed: ${err.message}`);
    process.exitCode = 1;
} finally {
    await browser.close();
}
