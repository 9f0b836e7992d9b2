// Drives the dashboard in Debian's Chromium against a running `keyway serve` (scripts/run.sh),
// with the environment described in support.mjs.
// The server must allow private upstreams (KEYWAY_GATEWAY__ALLOW_PRIVATE_UPSTREAMS=true): the test
// starts `keyway mock-provider` on 127.0.0.1 and registers it as a provider from the UI.
// A new user signs up, verifies through the e-mail in the outbox, creates an org, adds the mock
// provider, issues a key, sends requests through the gateway with it and sees them in the
// overview charts and the logs; a second user joins through an invitation as a viewer and cannot
// issue keys (the button is absent and the server refuses).
// Screenshots of every main page go to tests/browser/screenshots/ (gitignored).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_URL,
  GATEWAY_URL,
  RUN,
  goto,
  launchBrowser,
  linkFromOutbox,
  openPage as openPageIn,
  shot,
  startMock,
  waitForHydration,
} from './support.mjs';

const OWNER = { name: 'Ada Owner', email: `ada-${RUN}@example.com`, password: 'correct horse battery' };
const VIEWER = { name: 'Vic Viewer', email: `vic-${RUN}@example.com`, password: 'staple battery horse' };
const ORG_NAME = `Acme ${RUN}`;

let browser;
let mock;
let mockUrl;
/** Shared between the tests, which run in order. */
const state = {};

before(async () => {
  browser = await launchBrowser();
  ({ mock, url: mockUrl } = await startMock());
});

after(async () => {
  await browser?.close();
  // The gateway keeps idle connections to the mock open; a graceful stop would wait for them.
  mock?.kill('SIGKILL');
});

/** A fresh browser profile that may use the clipboard (the key's copy button). */
function openPage() {
  return openPageIn(browser, { permissions: ['clipboard-read', 'clipboard-write'] });
}

async function chat(key, model, extra = {}) {
  const res = await fetch(`${GATEWAY_URL}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello from the browser suite' }], ...extra }),
  });
  await res.text();
  return res.status;
}

test('pages are rendered on the server and the assets are served by Keyway', async () => {
  const res = await fetch(`${BASE_URL}/login`);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /Log in to Keyway/);
  assert.match(html, /\/pkg\/keyway\.js/);
  assert.doesNotMatch(html, /https?:\/\/(?!127\.0\.0\.1|localhost)[a-z0-9.-]+\.[a-z]{2,}\/[^"]*\.(js|css|woff2?)"/i);
  for (const asset of ['/pkg/keyway.js', '/pkg/keyway.wasm', '/pkg/keyway.css']) {
    const r = await fetch(`${BASE_URL}${asset}`);
    assert.equal(r.status, 200, `${asset} answered ${r.status}`);
  }
  const root = await fetch(`${BASE_URL}/`);
  assert.equal(root.status, 200);
  assert.match(await root.text(), /Keyway/);
});

test('a new user signs up, verifies, creates an org, adds a provider, issues a key and sees traffic', async () => {
  const { context, page, problems } = await openPage();
  try {
    // Sign up; the form explains a weak password in words before calling the server.
    await goto(page, '/signup');
    await page.getByLabel('Your name').fill(OWNER.name);
    await page.getByLabel('Work e-mail').fill(OWNER.email);
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('alert').filter({ hasText: 'at least 10 characters' }).waitFor();
    await shot(page, 'signup-error');
    await page.getByLabel('Password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();

    // Logging in before verifying is refused with an explanation.
    await goto(page, '/login');
    await shot(page, 'login');
    await page.getByLabel('E-mail').fill(OWNER.email);
    await page.getByLabel('Password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: /verif/i }).waitFor();

    // Verify through the link in the outbox.
    const verify = await linkFromOutbox(OWNER.email, '/verify-email');
    await goto(page, verify);
    await page.getByRole('heading', { name: 'E-mail verified' }).waitFor();
    await shot(page, 'verify-email');

    // Log in: no org yet, so the dashboard asks for one.
    await goto(page, '/login');
    await page.getByLabel('E-mail').fill(OWNER.email);
    await page.getByLabel('Password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(/\/orgs\/new$/);
    await waitForHydration(page);
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.getByRole('alert').filter({ hasText: 'Give the organization a name' }).waitFor();
    await page.getByLabel('Organization name').fill(ORG_NAME);
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.waitForURL(/\/o\/[0-9a-f-]{36}$/);
    state.orgPath = new URL(page.url()).pathname;
    state.orgId = state.orgPath.split('/')[2];

    // A fresh org shows the onboarding checklist with the real gateway URL in the snippets.
    const onboarding = page.getByTestId('onboarding');
    await onboarding.waitFor();
    assert.match(await onboarding.textContent(), /0 of 3 done/);
    await page.getByRole('tab', { name: 'Python' }).click();
    const python = await page.locator('#snippet-panel code').textContent();
    assert.ok(python.includes(`base_url="${GATEWAY_URL}/v1"`), python);
    await shot(page, 'onboarding');

    // Add the mock as a provider; the secret is write-only and shown masked.
    await onboarding.getByRole('link', { name: 'Add provider' }).click();
    await page.waitForURL(/\/providers$/);
    await page.getByTestId('add-provider').click();
    await page.getByRole('button', { name: 'Save credential' }).click();
    await page.getByRole('alert').filter({ hasText: 'Give the credential a name' }).waitFor();
    await page.getByLabel('Provider', { exact: true }).selectOption('mock');
    await page.getByLabel('Name', { exact: true }).fill('Mock');
    assert.equal(await page.getByLabel('Slug').inputValue(), 'mock');
    await page.getByLabel('Base URL (optional)').fill(`${mockUrl}/v1`);
    const upstreamSecret = `sk-upstream-${RUN}-abcdef123456`;
    await page.getByLabel('API key').fill(upstreamSecret);
    await page.getByRole('button', { name: 'Save credential' }).click();
    const masked = page.getByTestId('masked-key').first();
    await masked.waitFor();
    assert.ok(!(await masked.textContent()).includes(upstreamSecret));
    assert.ok(!(await page.content()).includes(upstreamSecret), 'the provider secret is never shown');
    await shot(page, 'providers');

    // Issue a key: the secret is shown once, with a copy button.
    await page.getByRole('link', { name: 'Virtual keys', exact: true }).click();
    await page.waitForURL(/\/keys$/);
    await page.getByTestId('issue-key').click();
    await page.getByLabel('Requests per minute').fill('0');
    await page.getByLabel('Name', { exact: true }).fill('checkout-service');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('alert').filter({ hasText: 'whole number above zero' }).waitFor();
    await page.getByLabel('Requests per minute').fill('600');
    await page.getByLabel('Budget (USD)').fill('25');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secretEl = page.getByTestId('new-key-secret');
    await secretEl.waitFor();
    const secret = (await secretEl.textContent()).trim();
    assert.ok(secret.length > 20, secret);
    await page.getByRole('button', { name: 'Copy key' }).click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    await shot(page, 'key-issued');
    await page.getByRole('button', { name: 'Done' }).click();
    assert.equal(await page.getByTestId('new-key-secret').count(), 0, 'the secret is gone once closed');

    // Traffic through the gateway with that key: successes, a stream, and an upstream error.
    for (let i = 0; i < 5; i++) assert.equal(await chat(secret, 'mock/echo'), 200);
    assert.equal(await chat(secret, 'mock/echo+chunks-5', { stream: true }), 200);
    assert.equal(await chat(secret, 'mock/echo+chunks-3', { stream: true }), 200);
    assert.ok((await chat(secret, 'mock/status-400')) >= 400);

    // The overview picks them up within seconds (it refreshes itself).
    await page.getByRole('link', { name: 'Overview', exact: true }).click();
    await page.waitForFunction(
      () => Number(document.querySelector('[data-testid="total-requests"]')?.textContent?.replace(/,/g, '')) >= 8,
      null,
      { timeout: 30_000 },
    );
    assert.match(await page.getByTestId('total-errors').textContent(), /^1/);
    const points = await page.locator('[data-testid="chart-requests"] circle.chart-dot').evaluateAll((els) =>
      els.map((e) => Number(e.getAttribute('data-value'))),
    );
    assert.ok(points.some((v) => v >= 1), `request chart points: ${points}`);
    const latencyPoints = await page.locator('[data-testid="chart-latency"] circle.chart-dot').count();
    assert.ok(latencyPoints >= 1, 'latency chart has points');
    assert.ok((await page.locator('[data-testid="chart-ttft"] circle.chart-dot').count()) >= 1, 'TTFT chart has points');
    assert.ok((await page.locator('[data-testid="chart-requests"] .chart-tick').count()) >= 5, 'axes have ticks');
    assert.match(await page.getByTestId('breakdown-model').textContent(), /echo/);
    assert.match(await page.getByTestId('breakdown-key').textContent(), /checkout-service/);
    await page.getByTestId('onboarding').waitFor({ state: 'detached' });
    await shot(page, 'overview');

    // Logs: filter to errors, then open a request.
    await page.getByRole('link', { name: 'Logs', exact: true }).click();
    const logRows = page.locator('[data-testid="logs-table"] tbody tr');
    await logRows.first().waitFor();
    assert.ok((await logRows.count()) >= 8, `logs rows: ${await logRows.count()}`);
    await shot(page, 'logs');
    await page.getByLabel('Status').selectOption('error');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="logs-table"] tbody tr').length === 1,
    );
    await page.getByLabel('Status').selectOption('');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="logs-table"] tbody tr').length >= 8,
    );
    await logRows.first().getByRole('link').click();
    await page.getByTestId('request-detail').waitFor();
    assert.match(await page.getByTestId('request-detail').textContent(), /Time to first token/);
    await shot(page, 'log-detail');

    // Keys list shows per-key spend.
    await page.getByRole('link', { name: 'Virtual keys', exact: true }).click();
    await page.getByTestId('keys-table').waitFor();
    assert.match(await page.getByTestId('key-spend').first().textContent(), /req/);
    await shot(page, 'keys');

    // Invite a viewer.
    await page.getByRole('link', { name: 'Team', exact: true }).click();
    await page.getByLabel('E-mail').fill('not-an-address');
    await page.getByRole('button', { name: 'Send invitation' }).click();
    await page.getByRole('alert').filter({ hasText: 'is not an e-mail address' }).waitFor();
    await page.getByLabel('E-mail').fill(VIEWER.email);
    await page.getByLabel('Role', { exact: true }).selectOption('viewer');
    await page.getByRole('button', { name: 'Send invitation' }).click();
    await page.getByTestId('pending-invites').getByText(VIEWER.email).waitFor();
    await shot(page, 'team');

    // Audit log records what happened.
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    await page.getByTestId('audit-table').waitFor();
    const audit = await page.getByTestId('audit-table').textContent();
    assert.match(audit, /key/);
    assert.match(audit, /invite/);
    await shot(page, 'audit');

    // Settings validate and save.
    await page.getByRole('link', { name: 'Settings', exact: true }).click();
    await page.getByLabel('Log retention (days)').fill('forever');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('alert').filter({ hasText: 'number of days' }).waitFor();
    await page.getByLabel('Log retention (days)').fill('30');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    await shot(page, 'settings');

    // A second organization: created from the switcher, switched away from, deleted.
    await page.getByTestId('org-switcher').selectOption('new');
    await page.waitForURL(/\/orgs\/new$/);
    await page.getByLabel('Organization name').fill('Scratch org');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.waitForURL(/\/o\/[0-9a-f-]{36}$/);
    const scratchPath = new URL(page.url()).pathname;
    assert.notEqual(scratchPath, state.orgPath);
    await page.getByTestId('onboarding').waitFor();
    await page.getByTestId('org-switcher').selectOption(state.orgId);
    await page.waitForURL(new RegExp(`${state.orgPath}$`));
    await page.waitForFunction(
      () => Number(document.querySelector('[data-testid="total-requests"]')?.textContent?.replace(/,/g, '')) >= 8,
    );
    await goto(page, `${scratchPath}/settings`);
    await page.getByLabel("Type the organization's name to confirm").fill('Scratch');
    await page.getByRole('button', { name: 'Delete this organization' }).click();
    await page.getByRole('alert').filter({ hasText: 'exactly to confirm' }).waitFor();
    await page.getByLabel("Type the organization's name to confirm").fill('Scratch org');
    await page.getByRole('button', { name: 'Delete this organization' }).click();
    await page.waitForURL(new RegExp(`${state.orgPath}$`));
    const orgNames = await page.getByTestId('org-switcher').locator('option').allTextContents();
    assert.ok(!orgNames.includes('Scratch org'), `switcher still lists the deleted org: ${orgNames}`);

    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('an invited viewer joins, sees the data and cannot issue keys', async () => {
  assert.ok(state.orgId, 'the previous test created the org');
  const { context, page, problems } = await openPage();
  try {
    const link = await linkFromOutbox(VIEWER.email, '/invites/accept');
    await goto(page, link);
    await page.getByRole('heading', { name: `Join ${ORG_NAME}` }).waitFor();
    await shot(page, 'invite-accept');
    await page.getByRole('link', { name: 'Create an account and join' }).click();
    await page.waitForURL(/\/signup\?/);
    await waitForHydration(page);
    await page.waitForFunction(
      (email) => document.querySelector('#signup-email')?.value === email,
      VIEWER.email,
    );
    await page.getByLabel('Your name').fill(VIEWER.name);
    await page.getByLabel('Password').fill(VIEWER.password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(new RegExp(`/o/${state.orgId}$`));
    await page.getByTestId('my-role').filter({ hasText: 'viewer' }).waitFor();

    await page.getByRole('link', { name: 'Virtual keys', exact: true }).click();
    await page.getByTestId('keys-table').waitFor();
    await page.getByTestId('viewer-notice').waitFor();
    assert.equal(await page.getByTestId('issue-key').count(), 0, 'a viewer has no issue-key button');
    assert.equal(await page.getByRole('button', { name: 'Revoke' }).count(), 0);
    assert.equal(await page.getByRole('link', { name: 'Audit log', exact: true }).count(), 0);
    await shot(page, 'keys-viewer');

    // The server refuses anyway, even with a valid session and CSRF token.
    const refused = await page.evaluate(async (orgId) => {
      const csrf = document.cookie.split('; ').find((c) => c.startsWith('kw_csrf='))?.split('=')[1];
      const r = await fetch(`/api/v1/orgs/${orgId}/keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf ?? '' },
        body: JSON.stringify({ name: 'sneaky' }),
      });
      return { status: r.status, body: await r.json() };
    }, state.orgId);
    assert.equal(refused.status, 403, JSON.stringify(refused));

    // Logging out ends the session.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login/);
    await goto(page, `/o/${state.orgId}/keys`);
    await page.waitForURL(/\/login\?next=/);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('an unknown path shows the 404 page with a way back', async () => {
  const { context, page, problems } = await openPage();
  try {
    const res = await page.goto(`${BASE_URL}/no/such/page`);
    assert.equal(res?.status(), 404);
    await page.getByRole('heading', { level: 1, name: 'Page not found' }).waitFor();
    assert.equal(await page.title(), 'Page not found · Keyway');
    await waitForHydration(page);
    await shot(page, 'not-found');
    await page.getByRole('link', { name: 'Back to overview' }).click();
    // Logged out: the dashboard root sends the visitor to the login page.
    await page.waitForURL(/\/login$/);
    const unexpected = problems.filter((p) => !p.includes('/no/such/page'));
    assert.deepEqual(unexpected, []);
  } finally {
    await context.close();
  }
});
