#!/usr/bin/env node
// Loads OpenDllm HTML pages in headless Debian chromium (playwright-core, no browser download) with NO network, and fails
// on any console error, page error, failed local resource or attempted network request. Takes a full-page screenshot of
// each page, and on pages with a trajectory viewer checks the viewer contract:
//
//   <input type="range" id="step" min="0" max="S">       the step slider (S = the last step)
//   <span class="tok" data-row="r" data-pos="p" data-step="s" data-token="text">   one per canvas token, where s is the
//       1-based step that committed the token and 0 marks fixed context (prompt, prefix, suffix)
//   after setting the slider to k and dispatching an `input` event:
//       s = 0        → class "fixed",     text = data-token
//       0 < s ≤ k    → class "committed", text = data-token
//       s > k        → class "masked",    text = "▢"
//   (exactly one of the three classes; text is the element's textContent), checked at k = 0, 1, ⌊S/2⌋ and S.
//
// usage: node check-pages.mjs PAGE.html [PAGE2.html ...] [--screenshots DIR]   (default DIR: out/browser-screenshots)
//        CHROMIUM=/path/to/chromium overrides /usr/bin/chromium. Prints one line per page; exit 1 if any page fails.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);
// default: the repository's git-ignored out/ folder
let screenshots = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'out', 'browser-screenshots');
const pages = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--screenshots') {
    if (i + 1 >= argv.length) usage('--screenshots needs a folder');
    screenshots = argv[++i];
  } else if (argv[i] === '--help' || argv[i] === '-h') usage();
  else if (argv[i].startsWith('--')) usage(`unknown option ${argv[i]}`);
  else pages.push(argv[i]);
}
if (pages.length === 0) usage('no pages given');

function usage(error) {
  if (error) console.error(`check-pages: ${error}`);
  console.error('usage: node check-pages.mjs PAGE.html [PAGE2.html ...] [--screenshots DIR]');
  process.exit(2);
}

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`check-pages: ${executablePath} not found (apt-get install chromium, or set CHROMIUM)`);
  process.exit(2);
}
mkdirSync(screenshots, { recursive: true });

// The flags known to work on these machines (closed network, running as root); a fresh empty profile per run.
const profile = mkdtempSync(join(tmpdir(), 'opendllm-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  offline: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
  viewport: { width: 1200, height: 800 },
});

let failures = 0;
try {
  for (const page of pages) {
    const result = await checkPage(page);
    if (result.errors.length === 0) console.log(`ok    ${page}  ${result.summary}`);
    else {
      failures++;
      console.log(`FAIL  ${page}  ${result.summary}`);
      for (const e of result.errors.slice(0, 20)) console.log(`        - ${e}`);
      if (result.errors.length > 20) console.log(`        … and ${result.errors.length - 20} more`);
    }
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
if (failures > 0) {
  console.log(`check-pages: ${failures} of ${pages.length} page(s) failed`);
  process.exit(1);
}
console.log(`check-pages: ${pages.length} page(s) passed`);

async function checkPage(file) {
  const errors = [];
  const path = resolve(file);
  if (!existsSync(path)) return { errors: [`file not found: ${path}`], summary: '' };
  const page = await context.newPage();
  try {
    // every request that is not file:// is refused and is a failure (pages must work offline: no CDN)
    await page.route('**/*', route => {
      const url = route.request().url();
      if (url.startsWith('file://')) return route.continue();
      errors.push(`network request attempted: ${url}`);
      return route.abort('blockedbyclient');
    });
    page.on('console', msg => { if (msg.type() === 'error') errors.push(`console error: ${msg.text()}`); });
    page.on('pageerror', e => errors.push(`page error: ${e.message}`));
    page.on('requestfailed', r => {
      if (r.url().startsWith('file://')) errors.push(`local resource failed: ${r.url()} (${r.failure()?.errorText})`);
    });

    await page.goto(pathToFileURL(path).href, { waitUntil: 'load', timeout: 30_000 });
    let summary = '';
    const hasViewer = await page.evaluate(() => !!document.querySelector('#step, .tok'));
    if (hasViewer) summary = await checkTrajectory(page, errors);
    const shot = join(screenshots, basename(path).replace(/\.html?$/i, '') + '.png');
    await page.screenshot({ path: shot, fullPage: true });
    return { errors, summary: `${summary}${summary ? '; ' : ''}screenshot ${shot}` };
  } catch (e) {
    errors.push(`${e.message.split('\n')[0]}`);
    return { errors, summary: '' };
  } finally {
    await page.close();
  }
}

async function checkTrajectory(page, errors) {
  const info = await page.evaluate(() => {
    const sliders = [...document.querySelectorAll('#step')];
    const s = sliders[0];
    const toks = [...document.querySelectorAll('.tok')];
    return {
      sliders: sliders.length,
      slider: s ? { tag: s.tagName, type: s.getAttribute('type'), min: s.min, max: s.max } : null,
      count: toks.length,
      missing: toks.filter(t => ['data-row', 'data-pos', 'data-step', 'data-token'].some(a => !t.hasAttribute(a))).length,
      badSteps: toks.map(t => t.getAttribute('data-step')).filter(v => v !== null && !/^\d+$/.test(v)).slice(0, 3),
      maxStep: Math.max(0, ...toks.map(t => Number(t.dataset.step)).filter(Number.isInteger)),
    };
  });
  const contract = [];
  if (info.sliders !== 1) contract.push(`expected exactly one element with id="step", found ${info.sliders}`);
  const sl = info.slider;
  if (sl && (sl.tag !== 'INPUT' || sl.type !== 'range')) contract.push(`#step is <${sl.tag.toLowerCase()} type="${sl.type}">, expected <input type="range">`);
  if (info.count === 0) contract.push('no <span class="tok"> tokens in the viewer');
  if (info.missing > 0) contract.push(`${info.missing} .tok element(s) lack data-row/data-pos/data-step/data-token`);
  if (info.badSteps.length > 0) contract.push(`data-step must be a non-negative integer, got ${info.badSteps.map(v => JSON.stringify(v)).join(', ')}`);
  if (sl && sl.min !== '' && Number(sl.min) !== 0) contract.push(`#step min is ${sl.min}, expected 0 (k = 0 shows the initial canvas)`);
  if (sl && Number(sl.max) !== info.maxStep) contract.push(`#step max is ${sl.max}, but the largest data-step is ${info.maxStep}`);
  if (contract.length > 0) {
    errors.push(...contract.map(c => `trajectory contract: ${c}`));
    return 'trajectory viewer: contract broken';
  }

  const max = info.maxStep;
  const ks = [...new Set([0, Math.min(1, max), Math.floor(max / 2), max])];
  for (const k of ks) {
    const bad = await page.evaluate(k => {
      const slider = document.getElementById('step');
      slider.value = String(k);
      slider.dispatchEvent(new Event('input', { bubbles: true }));
      if (Number(slider.value) !== k) return [`slider refused value ${k} (it reads ${slider.value})`];
      const states = ['fixed', 'committed', 'masked'];
      const problems = [];
      for (const t of document.querySelectorAll('.tok')) {
        const s = Number(t.dataset.step);
        const want = s === 0 ? 'fixed' : s <= k ? 'committed' : 'masked';
        const text = want === 'masked' ? '▢' : t.dataset.token;
        const has = states.filter(c => t.classList.contains(c));
        const where = `row ${t.dataset.row} pos ${t.dataset.pos} (data-step ${s})`;
        if (has.length !== 1 || has[0] !== want) problems.push(`${where}: class ${has.join('+') || '(none)'}, expected ${want}`);
        else if (t.textContent !== text) problems.push(`${where}: shows ${JSON.stringify(t.textContent)}, expected ${JSON.stringify(text)}`);
      }
      return problems;
    }, k);
    for (const b of bad.slice(0, 5)) errors.push(`trajectory at step k=${k}: ${b}`);
    if (bad.length > 5) errors.push(`trajectory at step k=${k}: … ${bad.length - 5} more token(s) wrong`);
  }
  return `trajectory viewer: ${info.count} tokens, ${max} steps, checked k = ${ks.join(', ')}`;
}
