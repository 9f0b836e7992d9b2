// The official `openai` Node SDK pointed at the Keyway gateway, changed only in base URL and key.
//
// Run: (cd tests/sdk-node && npm ci) && KEYWAY_BIN=/path/to/keyway node --test tests/sdk-node/
//
// Starts its own mock provider and a `keyway serve` on a temporary data directory seeded (with
// `keyway admin`) with one organization, a virtual key and three credentials pointing at the
// mock, one per upstream wire format: `mock` (OpenAI), `mock-anthropic` (Anthropic) and
// `mock-gemini` (Gemini). Usage rule of the mock: prompt tokens = sum over messages of
// 3 + words; completion tokens = words of the reply.

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';

const START_TIMEOUT_MS = 60_000;
// Longer than the server's graceful drain of in-flight requests (30 s).
const STOP_TIMEOUT_MS = 40_000;
// Not `KEYWAY_*`: the settings loader would read it as a setting.
const UPSTREAM_KEY_ENV = 'SDK_SUITE_UPSTREAM_KEY';
const UPSTREAMS = ['mock', 'mock-anthropic', 'mock-gemini'];
const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, days: { type: 'integer' } },
      required: ['city'],
    },
  },
};
const WEATHER_ARGS = { city: 'mock', days: 1 };

function keywayBin() {
  const bin = process.env.KEYWAY_BIN;
  if (!bin) throw new Error('set KEYWAY_BIN (the keyway binary)');
  return bin;
}

// The child's environment: the embedded default in its own data directory, nothing inherited
// from a caller's KEYWAY_* settings.
function childEnv() {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('KEYWAY_')),
  );
  return {
    ...env,
    KEYWAY_LOG: 'warn',
    KEYWAY_GATEWAY__ALLOW_PRIVATE_UPSTREAMS: 'true',
    [UPSTREAM_KEY_ENV]: 'sk-keyway-sdk-upstream',
  };
}

// Spawns `args` and resolves with the text after `prefix` on the first stdout line carrying it.
function startAndWaitFor(args, prefix) {
  const child = spawn(keywayBin(), args, { env: childEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const found = new Promise((resolve, reject) => {
    const seen = [];
    const timer = setTimeout(
      () => reject(new Error(`${args[0]}: no "${prefix}" line in time; stdout: ${seen.join(' | ')}`)),
      START_TIMEOUT_MS,
    );
    lines.on('line', (line) => {
      seen.push(line);
      if (line.startsWith(prefix)) {
        clearTimeout(timer);
        resolve(line.slice(prefix.length).trim().replace(/\/$/, ''));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited ${code} before "${prefix}"; stdout: ${seen.join(' | ')}`));
    });
  });
  return { child, found };
}

function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: null, signal: 'timeout' });
    }, STOP_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
    child.kill('SIGTERM');
  });
}

function admin(dataDir, ...args) {
  return execFileSync(keywayBin(), ['admin', ...args, '--data-dir', dataDir], {
    env: childEnv(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: START_TIMEOUT_MS,
  }).trim();
}

describe('openai Node SDK through the Keyway gateway', () => {
  let mock;
  let serve;
  let dataDir;
  let gatewayUrl;
  let key;
  let client;

  before(async () => {
    mock = startAndWaitFor(
      ['mock-provider', '--addr', '127.0.0.1:0'],
      'mock provider listening on ',
    );
    const mockUrl = await mock.found;
    dataDir = mkdtempSync(join(tmpdir(), 'keyway-sdk-node-'));
    // Seeded before `serve` starts: the admin commands migrate and write the same SQLite files.
    admin(dataDir, 'create-org', 'sdk-node');
    for (const [slug, kind, suffix] of [
      ['mock', 'mock', '/v1'],
      ['mock-anthropic', 'anthropic', ''],
      ['mock-gemini', 'gemini', ''],
    ]) {
      admin(dataDir, 'add-provider', '--org', 'sdk-node', '--slug', slug, '--kind', kind,
        '--base-url', `${mockUrl}${suffix}`, '--api-key-env', UPSTREAM_KEY_ENV);
    }
    key = admin(dataDir, 'issue-key', '--org', 'sdk-node', '--name', 'sdk-node');
    assert.match(key, /^\S+$/, 'issue-key prints exactly the secret');
    serve = startAndWaitFor(
      ['serve', '--api-addr', '127.0.0.1:0', '--gateway-addr', '127.0.0.1:0', '--data-dir', dataDir],
      'Keyway gateway:',
    );
    gatewayUrl = await serve.found;
    assert.match(gatewayUrl, /\/v1$/);
    client = new OpenAI({ baseURL: gatewayUrl, apiKey: key, maxRetries: 0 });
  });

  after(async () => {
    const results = await Promise.all([serve, mock].filter(Boolean).map((p) => stop(p.child)));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (serve) {
      assert.deepEqual(results[0], { code: 0, signal: null }, 'keyway serve exits 0 on SIGTERM');
    }
  });

  for (const upstream of UPSTREAMS) {
    test(`chat completion via ${upstream} echoes and counts usage`, async () => {
      const res = await client.chat.completions.create({
        model: `${upstream}/echo`,
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'Say hello to the gateway' },
        ],
      });
      assert.equal(res.object, 'chat.completion');
      assert.equal(res.choices[0].message.content, 'Say hello to the gateway');
      assert.equal(res.choices[0].finish_reason, 'stop');
      assert.deepEqual(
        [res.usage.prompt_tokens, res.usage.completion_tokens, res.usage.total_tokens],
        [3 + 3 + 3 + 5, 5, 19],
      );
    });

    test(`stream via ${upstream} assembles text and ends with a usage chunk`, async () => {
      const stream = await client.chat.completions.create({
        model: `${upstream}/echo+chunks-5`,
        messages: [{ role: 'user', content: 'one two three four five six' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunks = [];
      for await (const chunk of stream) chunks.push(chunk);
      const pieces = chunks.filter((c) => c.choices.length && c.choices[0].delta.content)
        .map((c) => c.choices[0].delta.content);
      assert.equal(pieces.length, 5);
      assert.equal(pieces.join(''), 'one two three four five six');
      const finishes = chunks.filter((c) => c.choices.length && c.choices[0].finish_reason)
        .map((c) => c.choices[0].finish_reason);
      assert.deepEqual(finishes, ['stop']);
      const last = chunks.at(-1);
      assert.deepEqual(last.choices, []);
      assert.deepEqual([last.usage.prompt_tokens, last.usage.completion_tokens], [9, 6]);
      assert.ok(chunks.slice(0, -1).every((c) => c.usage == null));
    });

    test(`tool call via ${upstream} comes back parsed`, async () => {
      const res = await client.chat.completions.create({
        model: `${upstream}/tool`,
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
        tools: [WEATHER_TOOL],
      });
      const choice = res.choices[0];
      assert.equal(choice.finish_reason, 'tool_calls');
      assert.equal(choice.message.tool_calls.length, 1);
      const call = choice.message.tool_calls[0];
      assert.ok(call.id);
      assert.equal(call.type, 'function');
      assert.equal(call.function.name, 'get_weather');
      assert.deepEqual(JSON.parse(call.function.arguments), WEATHER_ARGS);
    });

    test(`streamed tool call via ${upstream} accumulates in the SDK's stream helper`, async () => {
      const runner = client.chat.completions.stream({
        model: `${upstream}/tool+chunks-4`,
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
        tools: [WEATHER_TOOL],
      });
      const final = await runner.finalChatCompletion();
      const choice = final.choices[0];
      assert.equal(choice.finish_reason, 'tool_calls');
      const call = choice.message.tool_calls[0];
      assert.ok(call.id);
      assert.equal(call.function.name, 'get_weather');
      assert.deepEqual(JSON.parse(call.function.arguments), WEATHER_ARGS);
    });
  }

  test('withResponse exposes the x-keyway-* headers', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'mock/echo', messages: [{ role: 'user', content: 'headers please' }] })
      .withResponse();
    assert.equal(data.choices[0].message.content, 'headers please');
    assert.equal(response.headers.get('x-keyway-provider'), 'mock');
    assert.equal(response.headers.get('x-keyway-model'), 'echo');
    assert.ok(response.headers.get('x-keyway-request-id'));
    // 5 prompt tokens at $1/M plus 2 completion tokens at $2/M.
    assert.equal(response.headers.get('x-keyway-cost-usd'), '0.000009000');
  });

  test('a bad key raises AuthenticationError', async () => {
    const bad = new OpenAI({ baseURL: gatewayUrl, apiKey: 'kw-not-a-real-key', maxRetries: 0 });
    for (const stream of [false, true]) {
      await assert.rejects(
        bad.chat.completions.create({
          model: 'mock/echo',
          messages: [{ role: 'user', content: 'hi' }],
          stream,
        }),
        (err) => {
          assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}`);
          assert.equal(err.status, 401);
          assert.equal(err.code, 'invalid_api_key');
          return true;
        },
      );
    }
  });

  test('an upstream 429 raises RateLimitError', async () => {
    await assert.rejects(
      client.chat.completions.create({
        model: 'mock-gemini/status-429',
        messages: [{ role: 'user', content: 'hi' }],
      }),
      (err) => err instanceof OpenAI.RateLimitError && err.status === 429,
    );
  });

  test('a cut stream rejects instead of ending normally', async () => {
    const stream = await client.chat.completions.create({
      model: 'mock/echo+chunks-10+cut-after-3',
      messages: [{ role: 'user', content: 'abcdefghij' }],
      stream: true,
    });
    const pieces = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) {
          const text = chunk.choices.length ? chunk.choices[0].delta.content : null;
          if (text) pieces.push(text);
        }
      })(),
      (err) => err instanceof OpenAI.APIError && !(err instanceof OpenAI.APIConnectionError),
    );
    assert.deepEqual(pieces, ['a', 'b', 'c']);
  });
});
