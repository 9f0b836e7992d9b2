// What the browser suites share: the environment they run against, Chromium and the mock
// provider, pages that record console errors, navigation that waits for hydration,
// screenshots, and the verification links in the outbox. Not a test file itself (`node --test`
// only runs `*.test.mjs`).
//   KEYWAY_DASHBOARD_URL=http://127.0.0.1:3000 KEYWAY_GATEWAY_URL=http://127.0.0.1:8080 \
//   KEYWAY_DATA_DIR=<the --data-dir of keyway serve> KEYWAY_BIN=<path of the keyway binary> \
//   node --test tests/browser/

import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const BASE_URL = (process.env.KEYWAY_DASHBOARD_URL ?? '').replace(/\/+$/, '');
export const GATEWAY_URL = (process.env.KEYWAY_GATEWAY_URL ?? '').replace(/\/+$/, '');
export const DATA_DIR = process.env.KEYWAY_DATA_DIR ?? '';
export const KEYWAY_BIN = process.env.KEYWAY_BIN ?? '';
for (const [name, value] of Object.entries({
  KEYWAY_DASHBOARD_URL: BASE_URL,
  KEYWAY_GATEWAY_URL: GATEWAY_URL,
  KEYWAY_DATA_DIR: DATA_DIR,
  KEYWAY_BIN,
})) {
  if (!value) throw new Error(`set ${name} (see the comment at the top of tests/browser/support.mjs)`);
}
export const SCREENSHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshots');
export const TIMEOUT = 15_000;
/** Unique per run, so users and orgs of several runs (and suites) never collide. */
export const RUN = Date.now().toString(36);
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** Debian's Chromium, headless; the screenshot folder is created. */
export async function launchBrowser() {
  await mkdir(SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

/** Starts `keyway mock-provider` on 127.0.0.1: `{ mock, url }` (kill `mock` when done). */
export async function startMock() {
  const mock = spawn(KEYWAY_BIN, ['mock-provider', '--addr', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`mock provider did not start: ${out}`)), 20_000);
    mock.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/mock provider listening on (\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/+$/, ''));
      }
    });
    mock.on('exit', (code) => reject(new Error(`mock provider exited with ${code}`)));
  });
  return { mock, url };
}

/**
 * A fresh browser profile (own cookies) with a page that records console errors and uncaught
 * exceptions in `problems`. A 4xx the page handles (the 401 before login, a refused form) is
 * logged by Chromium as a console error; those are expected, anything else is a bug.
 */
export async function openPage(browser, contextOptions = {}) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, ...contextOptions });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('dialog', (d) => d.accept());
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of 4\d\d/.test(msg.text())) {
      problems.push(`console error: ${msg.text()} (${msg.location().url})`);
    }
  });
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
  return { context, page, problems };
}

export async function waitForHydration(page) {
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: TIMEOUT });
}

/** Opens a dashboard path and waits until the page is interactive. */
export async function goto(page, pathname) {
  const res = await page.goto(`${BASE_URL}${pathname}`);
  await waitForHydration(page);
  return res;
}

/** A screenshot of the whole page, or of `locator` only, to tests/browser/screenshots/. */
export async function shot(page, name, locator) {
  const file = path.join(SCREENSHOTS, `${name}.png`);
  if (locator) await locator.screenshot({ path: file });
  else await page.screenshot({ path: file, fullPage: true });
}

/** Finds the newest link to `pathname` in an e-mail to `to` in the outbox (quoted-printable aware). */
export async function linkFromOutbox(to, pathname) {
  const dir = path.join(DATA_DIR, 'outbox');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.eml')).sort().reverse();
    for (const f of files) {
      const text = (await readFile(path.join(dir, f), 'utf8')).replace(/=\r?\n/g, '').replace(/=3D/gi, '=');
      if (!text.toLowerCase().includes(to.toLowerCase())) continue;
      const m = text.match(new RegExp(`${pathname.replace(/[/?]/g, '\\$&')}\\?token=[A-Za-z0-9_.~%-]+`));
      if (m) return m[0];
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no e-mail to ${to} with a ${pathname} link in ${dir}`);
}
