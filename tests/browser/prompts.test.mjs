// Prompts and guardrails in the dashboard, driven in Debian's Chromium against a running
// `keyway serve` (scripts/run.sh), with the environment described in support.mjs.
// The server must allow private upstreams (KEYWAY_GATEWAY__ALLOW_PRIVATE_UPSTREAMS=true).
// A user of its own (so it runs beside dashboard.test.mjs) signs up, creates an org, adds
// `keyway mock-provider` (whose `echo` model answers with the last user message, so an answer
// tells which version rendered it) and issues a key. Then, all in the UI: create a prompt, write
// v2, see the diff, point production at v2, run it in the playground (straight to the gateway)
// and get v2's text, roll production back to v1 and get v1's, and see both versions in the
// analytics table; create a PII guardrail (an invalid definition is refused inline first) and
// test a text with an e-mail address: the verdict fails and the address is redacted.
// Screenshots go to tests/browser/screenshots/ (gitignored).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
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

const USER = { name: 'Pat Prompter', email: `pat-${RUN}@example.com`, password: 'prompt battery staple' };
const ORG_NAME = `Prompt Lab ${RUN}`;
const V1_LINE = 'Version one answer for {{customer}}: hello.';
const V2_LINE = 'Version two answer for {{customer}}: welcome back!';

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

function openPage() {
  return openPageIn(browser);
}

async function logIn(page) {
  await goto(page, '/login');
  await page.getByLabel('E-mail').fill(USER.email);
  await page.getByLabel('Password').fill(USER.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(/\/o\/[0-9a-f-]{36}$/);
  await waitForHydration(page);
}

/** Signs up, verifies, logs in, creates an org, adds the mock provider, issues a key. */
async function setUpOrg(page) {
  await goto(page, '/signup');
  await page.getByLabel('Your name').fill(USER.name);
  await page.getByLabel('Work e-mail').fill(USER.email);
  await page.getByLabel('Password').fill(USER.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();
  await goto(page, await linkFromOutbox(USER.email, '/verify-email'));
  await page.getByRole('heading', { name: 'E-mail verified' }).waitFor();
  await goto(page, '/login');
  await page.getByLabel('E-mail').fill(USER.email);
  await page.getByLabel('Password').fill(USER.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(/\/orgs\/new$/);
  await waitForHydration(page);
  await page.getByLabel('Organization name').fill(ORG_NAME);
  await page.getByRole('button', { name: 'Create organization' }).click();
  await page.waitForURL(/\/o\/[0-9a-f-]{36}$/);
  const orgPath = new URL(page.url()).pathname;

  await goto(page, `${orgPath}/providers`);
  await page.getByTestId('add-provider').click();
  await page.getByLabel('Provider', { exact: true }).selectOption('mock');
  await page.getByLabel('Name', { exact: true }).fill('Mock');
  await page.getByLabel('Base URL (optional)').fill(`${mockUrl}/v1`);
  await page.getByLabel('API key').fill(`sk-upstream-${RUN}-prompts`);
  await page.getByRole('button', { name: 'Save credential' }).click();
  await page.getByTestId('masked-key').first().waitFor();

  await page.getByRole('link', { name: 'Virtual keys', exact: true }).click();
  await page.getByTestId('issue-key').click();
  await page.getByLabel('Name', { exact: true }).fill('prompt-playground');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = (await page.getByTestId('new-key-secret').textContent()).trim();
  await page.getByRole('button', { name: 'Done' }).click();
  return { orgPath, key: secret };
}

/** Runs the prompt in the playground and returns what the result panel shows. */
async function runInPlayground(page, target) {
  const playground = page.getByTestId('playground');
  await playground.getByLabel('Run').selectOption(target);
  const before = await playground.getByTestId('playground-result').count();
  const previous = before ? await playground.getByTestId('playground-output').textContent() : null;
  await playground.getByRole('button', { name: 'Run' }).click();
  await playground.getByTestId('playground-result').waitFor();
  // A second run replaces the result: wait until the answer is the new one.
  await page.waitForFunction(
    ([prev]) => {
      const el = document.querySelector('[data-testid="playground-output"]');
      const btn = document.querySelector('[data-testid="run-prompt"]');
      return el && btn && !btn.disabled && (prev === null || el.textContent !== prev);
    },
    [previous],
  );
  return {
    output: await playground.getByTestId('playground-output').textContent(),
    version: await playground.getByTestId('playground-version').textContent(),
    cost: await playground.getByTestId('playground-cost').textContent(),
    latency: await playground.getByTestId('playground-latency').textContent(),
  };
}

/** The same call an app makes, straight to the gateway. */
async function completion(key, body) {
  const res = await fetch(`${GATEWAY_URL}/v1/prompts/support-answer/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  return { version: res.headers.get('x-keyway-prompt-version'), text: json.choices[0].message.content };
}

test('prompts: create, version, diff, ship with a label, run in the playground, roll back, compare', async () => {
  const { context, page, problems } = await openPage();
  try {
    const { orgPath, key } = await setUpOrg(page);
    state.key = key;

    // The list starts empty, with an explanation; create the prompt from it.
    await page.getByRole('link', { name: 'Prompts', exact: true }).click();
    await page.waitForURL(/\/prompts$/);
    await page.getByRole('heading', { name: 'No prompts yet' }).waitFor();
    await shot(page, 'prompts-empty');
    await page.getByTestId('new-prompt').click();
    await page.getByRole('button', { name: 'Create prompt' }).click();
    await page.getByRole('alert').filter({ hasText: 'Give the prompt a name' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Support answer');
    assert.equal(await page.getByLabel('Slug').inputValue(), 'support-answer');
    await page.getByLabel('Model').fill('mock/echo');
    await page.getByLabel('Description (optional)').fill('First reply to a support ticket');
    await page.getByLabel('System message').fill('You answer support tickets for Acme.');
    await page.getByLabel('User message').fill(V1_LINE);
    await page.getByRole('button', { name: 'Create prompt' }).click();
    await page.waitForURL(/\/prompts\/[0-9a-f-]{36}$/);
    const promptPath = new URL(page.url()).pathname;
    const promptId = promptPath.split('/').pop();

    // v1 is in the editor, with its variable detected and declared.
    const editor = page.getByTestId('editor');
    await editor.getByRole('heading', { name: 'New version (v2)' }).waitFor();
    assert.equal(await editor.getByLabel('user message').inputValue(), V1_LINE);
    assert.match(await editor.getByTestId('detected-variables').textContent(), /\{\{customer\}\}/);
    assert.equal(await editor.getByLabel('Variable name').first().inputValue(), 'customer');

    // A broken parameter object is explained before anything is sent.
    await editor.getByLabel('Parameters (JSON)').fill('{"temperature": ');
    await editor.getByRole('button', { name: 'Save as v2' }).click();
    await editor.getByRole('alert').filter({ hasText: 'not valid JSON' }).waitFor();

    // Write v2: another user line, a parameter and a commit message.
    await editor.getByLabel('Parameters (JSON)').fill('{"temperature": 0.3}');
    await editor.getByLabel('user message').fill(V2_LINE);
    await editor.getByLabel('Commit message').fill('Warmer greeting');
    await editor.getByRole('button', { name: 'Save as v2' }).click();
    await editor.getByRole('heading', { name: 'New version (v3)' }).waitFor();
    const history = page.getByTestId('versions-table');
    await history.locator('tr[data-version="2"]').waitFor();
    assert.match(await history.locator('tr[data-version="2"]').textContent(), /Warmer greeting/);
    assert.match(await history.locator('tr[data-version="2"]').textContent(), /Pat Prompter/);

    // The diff compares v1 with v2: v1's line removed on the left, v2's added on the right.
    const diff = page.getByTestId('diff');
    await diff.waitFor();
    const removed = (await diff.getByTestId('diff-removed').allTextContents()).join('\n');
    const added = (await diff.getByTestId('diff-added').allTextContents()).join('\n');
    assert.ok(removed.includes('Version one answer'), `removed: ${removed}`);
    assert.ok(added.includes('Version two answer'), `added: ${added}`);
    assert.ok(!removed.includes('Version two answer') && !added.includes('Version one answer'));
    assert.ok(added.includes('temperature'), `parameters diff: ${added}`);
    await shot(page, 'prompt-detail-diff');

    // Ship v2: point production at it.
    const labels = page.getByTestId('labels-card');
    await labels.getByLabel('Label', { exact: true }).selectOption('production');
    await labels.getByLabel('Version').selectOption('2');
    await labels.getByRole('button', { name: 'Move label' }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid="label-production"]')?.textContent === 'v2');

    // The playground calls the gateway from the browser with the pasted key.
    const playground = page.getByTestId('playground');
    await playground.getByRole('button', { name: 'Run' }).click();
    await playground.getByRole('alert').filter({ hasText: 'Paste a virtual key' }).waitFor();
    await playground.getByLabel('customer').fill('Ada');
    await playground.getByLabel('Virtual key').fill(key);
    let run = await runInPlayground(page, 'label:production');
    assert.equal(run.output.trim(), 'Version two answer for Ada: welcome back!');
    assert.equal(run.version, 'v2');
    assert.match(run.cost, /^\$/);
    assert.match(run.latency, /\d+(\.\d+)? m?s$/);
    await shot(page, 'playground-result', playground);
    assert.equal((await completion(key, { label: 'production', variables: { customer: 'Bo' } })).version, '2');

    // Roll back: production to v1, from the history. The next calls get v1.
    await page.getByTestId('promote-v1').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="label-production"]')?.textContent === 'v1');
    run = await runInPlayground(page, 'label:production');
    assert.equal(run.output.trim(), 'Version one answer for Ada: hello.');
    assert.equal(run.version, 'v1');
    const viaApp = await completion(key, { label: 'production', variables: { customer: 'Bo' } });
    assert.equal(viaApp.version, '1');
    assert.equal(viaApp.text, 'Version one answer for Bo: hello.');

    // Both versions show up in the analytics table (it refreshes itself; analytics flush every second).
    await page.waitForFunction(
      () => {
        const req = (v) =>
          Number(
            document
              .querySelector(`[data-testid="versions-compared-table"] tr[data-version="${v}"] [data-testid="version-requests"]`)
              ?.textContent?.replace(/,/g, ''),
          );
        return req(1) >= 2 && req(2) >= 2;
      },
      null,
      { timeout: 45_000 },
    );
    await shot(page, 'prompt-versions-compared', page.getByTestId('versions-compared'));
    await shot(page, 'prompt-detail');

    // The list shows the newest version and where production points.
    await page.getByRole('link', { name: 'Prompts', exact: true }).click();
    const row = page.getByTestId('prompts-table').locator('tbody tr').filter({ hasText: 'support-answer' });
    await row.waitFor();
    assert.match(await row.textContent(), /v2/);
    assert.match(await row.locator('[data-label="production"]').textContent(), /production → v1/);
    await shot(page, 'prompts-list');
    await row.getByRole('link', { name: 'Support answer' }).click();
    await page.waitForURL(new RegExp(`${promptId}$`));
    assert.ok(orgPath && promptPath.startsWith(orgPath));
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('guardrails: create with inline validation, then test a text with an e-mail address', async () => {
  const { context, page, problems } = await openPage();
  try {
    await logIn(page);
    await page.getByRole('link', { name: 'Guardrails', exact: true }).click();
    await page.getByRole('heading', { name: 'No guardrails yet' }).waitFor();
    await page.getByTestId('new-guardrail').click();
    await page.getByLabel('Slug').fill('no-pii');

    // An unknown PII kind is refused by the API; the message names the JSON path.
    const definition = page.getByLabel('Checks (JSON)');
    const text = (await definition.inputValue()).replace('"phone"', '"fone"');
    await definition.fill(text);
    await page.getByRole('button', { name: 'Create guardrail' }).click();
    const invalid = page.getByTestId('definition-error');
    await invalid.waitFor();
    assert.match(await invalid.textContent(), /checks\[0\]\.check/);
    await shot(page, 'guardrail-create-invalid');
    await page.getByRole('button', { name: 'Redact personal data' }).click();
    await page.getByRole('button', { name: 'Create guardrail' }).click();
    await page.waitForURL(/\/guardrails\/[0-9a-f-]{36}$/);

    // The test box: an e-mail address fails the check and is redacted.
    const box = page.getByTestId('guardrail-test');
    const email = 'ada.lovelace@example.com';
    await box.getByLabel('Text').fill(`Please reply to ${email} about my refund.`);
    await box.getByRole('button', { name: 'Input checks' }).click();
    await box.getByRole('button', { name: 'Run test' }).click();
    const verdict = box.getByTestId('verdicts').locator('tr[data-check="no-pii"]');
    await verdict.waitFor();
    assert.match(await verdict.textContent(), /failed/);
    assert.match(await verdict.textContent(), /redact/);
    assert.match(await verdict.textContent(), /email/);
    const redacted = await box.getByTestId('redacted-text').textContent();
    assert.ok(!redacted.includes(email), redacted);
    assert.match(redacted, /Please reply to .+ about my refund\./);
    assert.match(await box.getByTestId('verdict-banner').textContent(), /Allowed, with 1 failed check/);

    // Output checks: this guardrail has none.
    await box.getByRole('button', { name: 'Output checks' }).click();
    await box.getByRole('button', { name: 'Run test' }).click();
    await box.getByTestId('verdict-banner').filter({ hasText: 'No output checks' }).waitFor();
    await box.getByRole('button', { name: 'Input checks' }).click();
    await box.getByRole('button', { name: 'Run test' }).click();
    await box.getByTestId('verdicts').waitFor();
    await shot(page, 'guardrail-editor');

    // The list shows it with its version and what its checks do.
    await page.getByRole('link', { name: '← All guardrails' }).click();
    const row = page.getByTestId('guardrails-table').locator('tbody tr').filter({ hasText: 'no-pii' });
    await row.waitFor();
    assert.match(await row.textContent(), /v1.*1 input.*redact/);
    await shot(page, 'guardrails-list');
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('a prompt version names the guardrail: the playground answer comes back redacted', async () => {
  const { context, page, problems } = await openPage();
  try {
    await logIn(page);
    await page.getByRole('link', { name: 'Prompts', exact: true }).click();
    await page.getByRole('link', { name: 'Support answer' }).click();
    await page.waitForURL(/\/prompts\/[0-9a-f-]{36}$/);

    // v3 names the PII guardrail; the diff shows it by its slug.
    const editor = page.getByTestId('editor');
    await editor.getByRole('heading', { name: 'New version (v3)' }).waitFor();
    await editor.getByTestId('guardrail-picks').getByLabel(/no-pii/).check();
    await editor.getByLabel('Commit message').fill('Redact personal data');
    await editor.getByRole('button', { name: 'Save as v3' }).click();
    await editor.getByRole('heading', { name: 'New version (v4)' }).waitFor();
    assert.ok(await editor.getByTestId('guardrail-picks').getByLabel(/no-pii/).isChecked(), 'v3 is the new draft');
    const diff = page.getByTestId('diff');
    await diff.getByRole('heading', { name: 'Guardrails' }).waitFor();
    const added = (await diff.getByTestId('diff-added').allTextContents()).join('\n');
    assert.match(added, /no-pii · [0-9a-f]{8}…/);

    // The echo model repeats the user message: the address was redacted before it went upstream.
    const playground = page.getByTestId('playground');
    await playground.getByLabel('Run').selectOption('version:3');
    await playground.getByLabel('customer').fill('ada@example.com');
    await playground.getByLabel('Virtual key').fill(state.key);
    await playground.getByRole('button', { name: 'Run' }).click();
    await playground.getByTestId('playground-result').waitFor();
    const output = await playground.getByTestId('playground-output').textContent();
    assert.equal(output.trim(), 'Version two answer for [REDACTED_EMAIL]: welcome back!');
    assert.equal(await playground.getByTestId('playground-version').textContent(), 'v3');
    await shot(page, 'prompt-guardrails');
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
