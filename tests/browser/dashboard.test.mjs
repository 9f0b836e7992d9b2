// Drives the dashboard in Debian's Chromium against a running Keyway API port.
//   KEYWAY_DASHBOARD_URL=http://127.0.0.1:3000 node --test tests/browser/
// Screenshots go to tests/browser/screenshots/ (gitignored).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE_URL = (process.env.KEYWAY_DASHBOARD_URL ?? '').replace(/\/+$/, '');
if (!BASE_URL) {
  throw new Error('set KEYWAY_DASHBOARD_URL to the dashboard origin, e.g. http://127.0.0.1:3000');
}
const SCREENSHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshots');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];
const TIMEOUT = 15_000;

let userDataDir;
let context;

before(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  userDataDir = await mkdtemp(path.join(tmpdir(), 'keyway-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 1000 },
    permissions: ['clipboard-read', 'clipboard-write'],
  });
});

after(async () => {
  await context?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

/** Opens a page that records console errors, uncaught exceptions and failed requests. */
async function openPage() {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const problems = [];
  const assets = new Map();
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      problems.push(`console error: ${msg.text()} (${msg.location().url})`);
    }
  });
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
  page.on('requestfailed', (req) =>
    problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`),
  );
  page.on('response', (res) => {
    const url = new URL(res.url());
    if (url.pathname.startsWith('/pkg/')) assets.set(url.pathname, res.status());
  });
  return { page, problems, assets };
}

/** Waits until the wasm bundle has hydrated the server-rendered page. */
async function waitForHydration(page) {
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: TIMEOUT });
}

test('the overview page is rendered on the server', async () => {
  const res = await fetch(`${BASE_URL}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/html/);
  const html = await res.text();
  assert.match(html, /Get started with Keyway/);
  assert.match(html, /data-testid="gateway-url">https?:\/\/[^<]+</);
  assert.match(html, /data-testid="api-url">https?:\/\/[^<]+</);
  // The curl tab is selected before any script runs.
  assert.match(html, /\/v1\/chat\/completions/);
  assert.match(html, /role="tablist"/);
  // The status card's server function resolved during server rendering.
  assert.match(html, /data-testid="status-state">Online</);
  // The hydration script asks for the files scripts/build-wasm.sh writes.
  assert.match(html, /\/pkg\/keyway\.js/);
  assert.match(html, /\/pkg\/keyway\.wasm/);
  for (const asset of ['/pkg/keyway.js', '/pkg/keyway.wasm', '/pkg/keyway.css']) {
    const r = await fetch(`${BASE_URL}${asset}`);
    assert.equal(r.status, 200, `${asset} answered ${r.status}`);
  }
});

test('after hydration the snippet tabs, copy button and status refresh work', async () => {
  const { page, problems, assets } = await openPage();
  try {
    const res = await page.goto(`${BASE_URL}/`);
    assert.equal(res?.status(), 200);
    await page.getByRole('heading', { level: 1, name: 'Get started with Keyway' }).waitFor();
    const gatewayUrl = (await page.getByTestId('gateway-url').textContent())?.trim();
    assert.match(gatewayUrl ?? '', /^https?:\/\//);

    const code = page.locator('#snippet-panel code');
    const curlTab = page.getByRole('tab', { name: 'curl' });
    const pythonTab = page.getByRole('tab', { name: 'Python' });
    const nodeTab = page.getByRole('tab', { name: 'Node' });
    assert.equal(await curlTab.getAttribute('aria-selected'), 'true');
    assert.match(await code.textContent(), /^curl /);

    await waitForHydration(page);

    // Only a hydrated page reacts to the click: the server sent the curl snippet.
    await pythonTab.click();
    await page.waitForFunction(
      () => document.querySelector('#snippet-panel code')?.dataset.lang === 'python',
    );
    assert.equal(await pythonTab.getAttribute('aria-selected'), 'true');
    assert.equal(await curlTab.getAttribute('aria-selected'), 'false');
    const python = await code.textContent();
    assert.ok(python.includes('from openai import OpenAI'), python);
    assert.ok(python.includes(`base_url="${gatewayUrl}/v1"`), python);
    assert.ok(python.includes('api_key="<your Keyway virtual key>"'), python);
    assert.equal(
      await page.getByRole('tabpanel').getAttribute('aria-labelledby'),
      'tab-python',
    );
    await page.screenshot({ path: path.join(SCREENSHOTS, 'overview-python.png'), fullPage: true });

    // Arrow keys move between tabs, as in any tablist.
    await pythonTab.focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await nodeTab.getAttribute('aria-selected'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'tab-node');
    const node = await code.textContent();
    assert.ok(node.includes(`baseURL: "${gatewayUrl}/v1"`), node);

    // Copy puts exactly the visible snippet on the clipboard and says so.
    const copy = page.getByRole('button', { name: 'Copy snippet' });
    await copy.click();
    await page.getByRole('button', { name: 'Copied to clipboard' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), node);

    // Refresh calls the server function from the browser; the server clock moves on.
    const time = page.getByTestId('status-time');
    const before = await time.getAttribute('datetime');
    const [fnResponse] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname.startsWith('/_dash/fn/')),
      page.getByRole('button', { name: 'Refresh' }).click(),
    ]);
    assert.equal(fnResponse.status(), 200);
    await page.waitForFunction(
      (prev) => document.querySelector('[data-testid="status-time"]')?.getAttribute('datetime') !== prev,
      before,
    );
    assert.equal(await page.getByTestId('status-state').textContent(), 'Online');

    await curlTab.click();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'overview.png'), fullPage: true });

    assert.deepEqual(
      Object.fromEntries(assets),
      { '/pkg/keyway.css': 200, '/pkg/keyway.js': 200, '/pkg/keyway.wasm': 200 },
    );
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});

test('an unknown path shows the 404 page with a way back', async () => {
  const { page, problems } = await openPage();
  try {
    const res = await page.goto(`${BASE_URL}/no/such/page`);
    assert.equal(res?.status(), 404);
    await page.getByRole('heading', { level: 1, name: 'Page not found' }).waitFor();
    assert.equal(await page.title(), 'Page not found · Keyway');
    await waitForHydration(page);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'not-found.png'), fullPage: true });

    await page.getByRole('link', { name: 'Back to overview' }).click();
    await page.getByRole('heading', { level: 1, name: 'Get started with Keyway' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/');
    // Chromium logs the document's own 404 as a console error; that one is the point here.
    const unexpected = problems.filter(
      (p) => !(p.includes('status of 404') && p.includes('/no/such/page')),
    );
    assert.deepEqual(unexpected, []);
  } finally {
    await page.close();
  }
});
