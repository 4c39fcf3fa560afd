/**
 * Source of the worker thread that runs agent code (see sandbox.ts). It is a plain CommonJS
 * script kept as a string and started with `new Worker(WORKER_SOURCE, { eval: true })`, so there
 * is no worker file to resolve at run time: it works the same under tsx (local mode), vitest, and
 * inside the esbuild bundle of the runner Lambda. It must stay plain JavaScript (no TypeScript, no
 * backticks, no `${`), since no compiler sees it.
 *
 * Protocol (worker → parent, via parentPort):
 *   {t:'integrity', actual}                    cached file does not hash to workerData.sha256
 *   {t:'manifest', manifest} | {t:'manifest-error', error}      (mode 'inspect')
 *   {t:'started'}                              agent code (runCycle/onEnvelope) is about to run
 *   {t:'log', level, msg, fields}              ctx.log
 *   {t:'publish', topic, payload, recipient}   ctx.publish (already validated here, re-validated by the parent)
 *   {t:'state', key, value, del}               ctx.state.set/delete (value is JSON text)
 *   {t:'done', ok, error, aborted}             the handler settled
 * The parent terminates the worker after 'done', at the timeout, or on any error.
 */
// biome-ignore lint/complexity/noUselessStringRaw: the source is JavaScript for another thread; raw keeps any escape a future edit adds (`\n` in its strings) as written
export const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const { createHash } = require('node:crypto');
const { pathToFileURL } = require('node:url');

const wd = workerData;
const L = wd.limits;
const send = (m) => parentPort.postMessage(m);
const TOPIC_RE = new RegExp(L.topicRe);
const STATE_KEY_RE = new RegExp(L.stateKeyRe);

function describe(e) {
  if (e instanceof Error) {
    const n = e.name && e.name !== 'Error' ? e.name + ': ' : '';
    return (n + e.message).slice(0, 2000);
  }
  try { return String(e).slice(0, 2000); } catch (_) { return 'non-error value thrown'; }
}

function jsonText(v, what) {
  let s;
  try { s = JSON.stringify(v); } catch (e) { throw new TypeError(what + ' is not JSON-serializable: ' + describe(e)); }
  if (s === undefined) throw new TypeError(what + ' is not JSON-serializable');
  return s;
}

async function load() {
  const bytes = readFileSync(wd.file);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== wd.sha256) {
    send({ t: 'integrity', actual });
    return { integrity: false };
  }
  const mod = await import(pathToFileURL(wd.file).href);
  // the file must still be the one hashed: a file replaced between the hash and the import would
  // make other code run (or none), so that is an integrity failure, never the bundle's fault
  const after = createHash('sha256').update(readFileSync(wd.file)).digest('hex');
  if (after !== wd.sha256) {
    send({ t: 'integrity', actual: after });
    return { integrity: false };
  }
  return { integrity: true, agent: mod.default };
}

async function inspect() {
  let loaded;
  try {
    loaded = await load();
  } catch (e) {
    send({ t: 'manifest-error', error: 'bundle could not be imported: ' + describe(e) });
    return;
  }
  if (!loaded.integrity) return;
  const a = loaded.agent;
  if (a === null || (typeof a !== 'object' && typeof a !== 'function')) {
    send({ t: 'manifest-error', error: 'the default export is not an agent object (got ' + (a === null ? 'null' : typeof a) + ')' });
    return;
  }
  if (typeof a.runCycle !== 'function') {
    send({ t: 'manifest-error', error: 'the default export has no runCycle function' });
    return;
  }
  let subs = a.subscriptions;
  try { subs = subs === undefined ? undefined : JSON.parse(jsonText(subs, 'subscriptions')); } catch (e) { send({ t: 'manifest-error', error: describe(e) }); return; }
  send({ t: 'manifest', manifest: { cycleSeconds: a.cycleSeconds, timeoutSeconds: a.timeoutSeconds, subscriptions: subs, hasOnEnvelope: typeof a.onEnvelope === 'function' } });
}

async function run() {
  let loaded;
  try {
    loaded = await load();
  } catch (e) {
    send({ t: 'done', ok: false, error: 'bundle could not be imported: ' + describe(e), aborted: false });
    return;
  }
  if (!loaded.integrity) return;
  const a = loaded.agent;
  const fnName = wd.kind === 'envelope' ? 'onEnvelope' : 'runCycle';
  if (a === null || (typeof a !== 'object' && typeof a !== 'function') || typeof a[fnName] !== 'function') {
    send({ t: 'done', ok: false, error: 'the default export has no ' + fnName + ' function', aborted: false });
    return;
  }

  const state = new Map();
  const sizes = new Map();
  let stateBytes = 0;
  for (const [k, v] of Object.entries(wd.state)) {
    state.set(k, v);
    const n = k.length + jsonText(v, 'state').length;
    sizes.set(k, n);
    stateBytes += n;
  }
  const checkKey = (key) => {
    if (typeof key !== 'string' || !STATE_KEY_RE.test(key)) throw new TypeError('state key must match ' + L.stateKeyRe + ', got ' + JSON.stringify(String(key)).slice(0, 80));
  };
  const stateApi = {
    get(key) {
      checkKey(key);
      const v = state.get(key);
      return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
    },
    set(key, value) {
      checkKey(key);
      if (value === undefined) return stateApi.delete(key);
      const text = jsonText(value, 'state value for "' + key + '"');
      const n = key.length + text.length;
      const next = stateBytes - (sizes.get(key) || 0) + n;
      if (next > L.maxStateBytes) throw new RangeError('state would be ' + next + ' bytes, over the limit of ' + L.maxStateBytes);
      state.set(key, JSON.parse(text));
      sizes.set(key, n);
      stateBytes = next;
      send({ t: 'state', key, value: text, del: false });
    },
    delete(key) {
      checkKey(key);
      const had = state.delete(key);
      stateBytes -= sizes.get(key) || 0;
      sizes.delete(key);
      send({ t: 'state', key, value: null, del: true });
      return had;
    },
    has(key) { checkKey(key); return state.has(key); },
    keys() { return [...state.keys()]; },
  };

  let logLines = 0;
  const logAt = (level) => (msg, fields) => {
    if (++logLines > L.maxLogLines) { if (logLines === L.maxLogLines + 1) send({ t: 'log', level: 'warn', msg: 'log limit reached; further lines of this run dropped', fields: null }); return; }
    let f = null;
    if (fields !== undefined && fields !== null) { try { f = JSON.parse(JSON.stringify(fields)); } catch (_) { f = { unserializable: true }; } }
    send({ t: 'log', level, msg: String(msg).slice(0, 4096), fields: f });
  };
  const log = logAt('info');
  log.debug = logAt('debug'); log.info = logAt('info'); log.warn = logAt('warn'); log.error = logAt('error');

  let published = 0;
  const publish = (topic, payload, recipient) => {
    if (typeof topic !== 'string' || !TOPIC_RE.test(topic)) throw new TypeError('publish: topic must match ' + L.topicRe + ', got ' + JSON.stringify(String(topic)).slice(0, 80));
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new TypeError('publish: payload must be a JSON object');
    if (recipient !== undefined && recipient !== null && (typeof recipient !== 'string' || recipient.length < 1 || recipient.length > 128)) throw new TypeError('publish: recipient must be a string of 1-128 characters');
    const text = jsonText(payload, 'publish: payload');
    // size of the envelope the runner will build (id and ts have fixed lengths)
    const env = { id: '00000000-0000-0000-0000-000000000000', topic, sender: wd.agent, ts: '2026-01-01T00:00:00.000Z', payload: JSON.parse(text) };
    if (recipient) env.recipient = recipient;
    const size = Buffer.byteLength(JSON.stringify(env), 'utf8');
    if (size > L.maxEnvelopeBytes) throw new RangeError('publish: envelope would be ' + size + ' bytes, over the limit of ' + L.maxEnvelopeBytes);
    if (++published > L.maxPublishes) throw new RangeError('publish: at most ' + L.maxPublishes + ' envelopes per run');
    send({ t: 'publish', topic, payload: env.payload, recipient: recipient || undefined });
    return Promise.resolve();
  };

  const ac = new AbortController();
  const ctx = Object.freeze({
    agent: wd.agent,
    version: wd.version,
    cycle: wd.cycle,
    signal: ac.signal,
    log,
    publish,
    state: Object.freeze(stateApi),
  });
  // a handler whose promise never settles, with nothing else pending, must still hang until the
  // parent's timeout (an empty event loop would otherwise end the worker early)
  setInterval(() => {}, 1 << 30);
  send({ t: 'started' });
  const timer = setTimeout(() => ac.abort(new DOMException('the run is about to time out', 'TimeoutError')), wd.abortAfterMs);
  try {
    if (wd.kind === 'envelope') await a.onEnvelope(wd.envelope, ctx);
    else await a.runCycle(ctx);
    send({ t: 'done', ok: true, error: null, aborted: ac.signal.aborted });
  } catch (e) {
    send({ t: 'done', ok: false, error: describe(e), aborted: ac.signal.aborted });
  } finally {
    clearTimeout(timer);
  }
}

(wd.mode === 'inspect' ? inspect() : run()).catch((e) => send({ t: 'done', ok: false, error: 'sandbox: ' + describe(e), aborted: false }));
`;
