/**
 * The agent side of every local runtime: the JavaScript that runs next to agent code (in a worker
 * thread, or in an agent process), kept as a string because it runs where no compiler or module
 * resolution of ours exists (`new Worker(src, { eval: true })`, `node -e src`). It must stay
 * plain CommonJS JavaScript with no backticks and no `${`.
 *
 * `KERNEL_SOURCE` defines, for the bootstraps of thread-sandbox.ts and process-sandbox.ts:
 * - `loadAgent(bytes, sha256, key)`: hashes the bytes it was handed and imports exactly those
 *   bytes (a `data:` URL; no file is read after the hash, so nothing can swap the code between
 *   the check and the import), named `key` in stack traces (`//# sourceURL`);
 * - `manifestOf(agent)`: what the default export declares, or why it is not an agent;
 * - `runAgent(agent, input, send)`: one run with its `ctx` (signal, log, publish, state), every
 *   effect sent to the trusted side as a message; the trusted side validates all of it again.
 *
 * Messages (agent side → trusted side), each with the run's `runId`:
 *   {t:'integrity', actual}      the bytes do not hash to the sha256 they were verified under
 *   {t:'started'}                agent code (runCycle/onEnvelope) is about to run
 *   {t:'log', level, msg, fields}
 *   {t:'publish', topic, payload, recipient}
 *   {t:'state', key, value, del} (value: JSON text)
 *   {t:'done', ok, error, stack, aborted}
 */

export const KERNEL_SOURCE = String.raw`
'use strict';
const { createHash } = require('node:crypto');

function describe(e) {
  if (e instanceof Error) {
    const n = e.name && e.name !== 'Error' ? e.name + ': ' : '';
    return (n + e.message).slice(0, 2000);
  }
  try { return String(e).slice(0, 2000); } catch (_) { return 'non-error value thrown'; }
}

// the stack of an error, bounded (frames name the bundle key thanks to sourceURL)
function stackOf(e) {
  try {
    if (!(e instanceof Error) || typeof e.stack !== 'string') return null;
    return e.stack.split('\n').slice(0, 30).join('\n').slice(0, 8192);
  } catch (_) { return null; }
}

// ctx.publish of a topic only the orchestrator writes (agent.*, bundle.*): the agent can catch it
// (e.name === 'ReservedTopicError', e.code === 'reserved_topic'); nothing is published
class ReservedTopicError extends Error {
  constructor(topic) {
    super('publish: the topic ' + JSON.stringify(topic) + ' is reserved for the orchestrator (agent.*, bundle.*)');
    this.name = 'ReservedTopicError';
    this.code = 'reserved_topic';
  }
}

function jsonText(v, what) {
  let s;
  try { s = JSON.stringify(v); } catch (e) { throw new TypeError(what + ' is not JSON-serializable: ' + describe(e)); }
  if (s === undefined) throw new TypeError(what + ' is not JSON-serializable');
  return s;
}

async function loadAgent(bytes, sha256, key) {
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256) return { integrity: false, actual };
  const named = Buffer.concat([Buffer.from(bytes), Buffer.from('\n//# sourceURL=' + key + '\n')]);
  const mod = await import('data:text/javascript;base64,' + named.toString('base64'));
  return { integrity: true, agent: mod.default };
}

function manifestOf(a) {
  if (a === null || (typeof a !== 'object' && typeof a !== 'function')) return { error: 'the default export is not an agent object (got ' + (a === null ? 'null' : typeof a) + ')' };
  if (typeof a.runCycle !== 'function') return { error: 'the default export has no runCycle function' };
  let subs = a.subscriptions;
  try { subs = subs === undefined ? undefined : JSON.parse(jsonText(subs, 'subscriptions')); } catch (e) { return { error: describe(e) }; }
  return { manifest: { cycleSeconds: a.cycleSeconds, timeoutSeconds: a.timeoutSeconds, subscriptions: subs, hasOnEnvelope: typeof a.onEnvelope === 'function', runtime: typeof a.runtime === 'string' ? a.runtime : undefined } };
}

// input: { runId, agent, version, kind, cycle, envelope, state, abortAfterMs, limits }
async function runAgent(a, input, send) {
  const L = input.limits;
  const TOPIC_RE = new RegExp(L.topicRe);
  const RESERVED_TOPIC_RE = new RegExp(L.reservedTopicRe);
  const STATE_KEY_RE = new RegExp(L.stateKeyRe);
  const runId = input.runId;
  const emit = (m) => { m.runId = runId; send(m); };
  const fnName = input.kind === 'envelope' ? 'onEnvelope' : 'runCycle';
  if (a === null || (typeof a !== 'object' && typeof a !== 'function') || typeof a[fnName] !== 'function') {
    emit({ t: 'done', ok: false, error: 'the default export has no ' + fnName + ' function', stack: null, aborted: false });
    return;
  }

  const state = new Map();
  const sizes = new Map();
  let stateBytes = 0;
  for (const [k, v] of Object.entries(input.state)) {
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
      emit({ t: 'state', key, value: text, del: false });
    },
    delete(key) {
      checkKey(key);
      const had = state.delete(key);
      stateBytes -= sizes.get(key) || 0;
      sizes.delete(key);
      emit({ t: 'state', key, value: null, del: true });
      return had;
    },
    has(key) { checkKey(key); return state.has(key); },
    keys() { return [...state.keys()]; },
  };

  let logLines = 0;
  const logAt = (level) => (msg, fields) => {
    if (++logLines > L.maxLogLines) return;
    let f = null;
    if (fields !== undefined && fields !== null) {
      let text = null;
      try { text = JSON.stringify(fields); } catch (_) { text = null; }
      // fields over the cap are not even sent (the trusted side would replace them anyway)
      if (text === null || text === undefined) f = { unserializable: true };
      else if (text.length > L.maxLogFieldBytes) f = { truncated: 'fields of ' + text.length + ' bytes, over the limit of ' + L.maxLogFieldBytes };
      else f = JSON.parse(text);
    }
    emit({ t: 'log', level, msg: String(msg).slice(0, 4096), fields: f });
  };
  const log = logAt('info');
  log.debug = logAt('debug'); log.info = logAt('info'); log.warn = logAt('warn'); log.error = logAt('error');

  let published = 0;
  const publish = (topic, payload, recipient) => {
    if (typeof topic !== 'string' || !TOPIC_RE.test(topic)) throw new TypeError('publish: topic must match ' + L.topicRe + ', got ' + JSON.stringify(String(topic)).slice(0, 80));
    if (RESERVED_TOPIC_RE.test(topic)) throw new ReservedTopicError(topic);
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new TypeError('publish: payload must be a JSON object');
    if (recipient !== undefined && recipient !== null && (typeof recipient !== 'string' || recipient.length < 1 || recipient.length > 128)) throw new TypeError('publish: recipient must be a string of 1-128 characters');
    const text = jsonText(payload, 'publish: payload');
    // size of the envelope the runner will build (id and ts have fixed lengths)
    const env = { id: '00000000-0000-0000-0000-000000000000', topic, sender: input.agent, ts: '2026-01-01T00:00:00.000Z', payload: JSON.parse(text) };
    if (recipient) env.recipient = recipient;
    const size = Buffer.byteLength(JSON.stringify(env), 'utf8');
    if (size > L.maxEnvelopeBytes) throw new RangeError('publish: envelope would be ' + size + ' bytes, over the limit of ' + L.maxEnvelopeBytes);
    if (++published > L.maxPublishes) throw new RangeError('publish: at most ' + L.maxPublishes + ' envelopes per run');
    emit({ t: 'publish', topic, payload: env.payload, recipient: recipient || undefined });
    return Promise.resolve();
  };

  const ac = new AbortController();
  const ctx = Object.freeze({ agent: input.agent, version: input.version, cycle: input.cycle, signal: ac.signal, log, publish, state: Object.freeze(stateApi) });
  emit({ t: 'started' });
  const timer = setTimeout(() => ac.abort(new DOMException('the run is about to time out', 'TimeoutError')), input.abortAfterMs);
  try {
    if (input.kind === 'envelope') await a.onEnvelope(input.envelope, ctx);
    else await a.runCycle(ctx);
    emit({ t: 'done', ok: true, error: null, stack: null, aborted: ac.signal.aborted });
  } catch (e) {
    emit({ t: 'done', ok: false, error: describe(e), stack: stackOf(e), aborted: ac.signal.aborted });
  } finally {
    clearTimeout(timer);
  }
}
`;
