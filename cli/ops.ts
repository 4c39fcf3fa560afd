/**
 * Operator commands of agentctl — a thin client of the control API (CONTRACT):
 *   agents [--status S] [--prefix P] [--limit N] [--cursor C] [--all]
 *   agent N | logs N [--follow] | pause N | resume N | trigger N | restart N | quarantine N | release N
 *   ledger verify [--digests] | ledger tail [-n N] [--follow] [--topic T] [--agent A]
 * Options: --api URL (else AGENT_API_URL, else the running local mode), --iam (SigV4),
 * --json (raw API JSON).
 * Exit codes: 0 ok, 1 failed operation (API error or unreachable; message on stderr), 2 usage.
 */
import { parseArgs } from 'node:util';
import type { Io } from './agentctl';
import { OperationError, UsageError } from './errors';
import { describeError, request, resolveTarget, authHeaders, routeUrl, streamTarget, type ApiTarget } from './api-client';
import { AGENT_NAME_RE } from '../shared/core/bundle/identity';
import type { AgentDetail, AgentView } from '../shared/core/control/service';
import { AgentStatusSchema, MAX_AGENT_PAGE } from '../shared/core/registry';
import { AGENT_ACTIONS, type AgentAction } from '../shared/definitions/api';
import { concernsAgent } from '../shared/core/ledger/service';

interface DigestCheck {
  total: number;
  checked: number;
  expired: number;
  mismatched: { ref: string; seq: number; at: string; anchored: string; found: string | null }[];
  lastMatching: { seq: number; at: string; ref: string } | null;
}

const PAST: Record<AgentAction, string> = {
  pause: 'paused',
  resume: 'resumed',
  trigger: 'triggered',
  restart: 'restarted',
  quarantine: 'quarantined',
  release: 'released',
};

interface LedgerEntryLike {
  seq: number;
  ts: string;
  topic: string;
  sender: string;
  recipient?: string;
  replayOf?: number;
  payload: unknown;
}

const OPS_HELP: Record<string, string> = {
  '': `usage: agentctl agents | agent NAME | logs NAME | pause|resume|trigger|restart|quarantine|release NAME | ledger verify | ledger tail
options: --api URL (else AGENT_API_URL, else the running local mode), --iam (SigV4), --json (the API's JSON)
`,
  agents: 'usage: agentctl agents [--json]\n  the agents: status, last heartbeat, next run, errors, restarts, the current error\n',
  logs: `usage: agentctl logs NAME [-n N] [--follow] [--json]
  the agent's own log lines (ctx.log, and what it printed), oldest first: the last N (default 100, at most 1000)
  of the last 10 cycles and 10 envelope runs that logged (50 lines / 8 KB per run; a failed run that logged ends with its error)
  --follow      then new lines as they come (polls every second), until interrupted
`,
  agent:
    'usage: agentctl agent NAME [--json]\n  one agent: status and reason, last run, the current (or last) error with its time and stack\n',
  ledger: 'usage: agentctl ledger verify [--digests] [--json] | ledger tail [-n N] [--follow] [--topic T] [--agent A] [--json]\n',
  'ledger verify':
    'usage: agentctl ledger verify [--digests] [--json]\n  checks the hash chain (and with --digests every anchored digest); prints "ledger ok: N entries, head H", exit 1 when it fails\n',
  'ledger tail': `usage: agentctl ledger tail [-n N] [--follow] [--topic T] [--agent A] [--json]
  the newest N entries (default 20, at most 1000), one per line: #seq ts topic sender[ -> recipient] payload
  --follow      then the new ones as they are appended, until interrupted
  --topic T     only topic T
  --agent A     only entries about agent A: sent by it, addressed to it, and the orchestrator's events naming it
                (agent.failed, agent.restarted, agent.quarantined, ..., bundle.rejected of its bundles)
`,
};

interface LogLineLike {
  ts: string;
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
  runId: string;
  kind: string;
  cycle: number;
  version: string;
}

/** Lines by a key that stays the same across fetches (run id and position in the run), in order. */
function keyed(lines: LogLineLike[]): Map<string, LogLineLike> {
  const at = new Map<string, number>();
  const out = new Map<string, LogLineLike>();
  for (const l of lines) {
    const i = at.get(l.runId) ?? 0;
    at.set(l.runId, i + 1);
    out.set(`${l.runId}\u0000${i}`, l);
  }
  return out;
}

function logLine(l: LogLineLike): string {
  const run = l.kind === 'envelope' ? 'envelope' : `${l.kind} ${l.cycle}`;
  const fields = l.fields && Object.keys(l.fields).length ? ` ${JSON.stringify(l.fields)}` : '';
  return `${l.ts} ${l.level.padEnd(5)} [${l.version} ${run}] ${l.msg}${fields}\n`;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n') + '\n';
}

function entryLine(e: LedgerEntryLike): string {
  const to = e.recipient ? ` -> ${e.recipient}` : '';
  const replay = e.replayOf !== undefined ? ` (replay of #${e.replayOf})` : '';
  return `#${e.seq} ${e.ts} ${e.topic} ${e.sender}${to}${replay} ${JSON.stringify(e.payload)}\n`;
}

/** `agentctl agent NAME`: status, reason, last outcome, the last error with its time and stack. */
export function agentReport(a: AgentDetail): string {
  const lines: string[] = [];
  const row = (k: string, v: string) => lines.push(`${k.padEnd(14)}${v}`);
  lines.push(`${a.name} ${a.version}`);
  row('status', `${a.status}${a.statusReason ? ` (${a.statusReason})` : ''}${a.statusChangedAt ? ` since ${a.statusChangedAt}` : ''}`);
  if (a.status === 'quarantined')
    row('', `no code of it runs until \`agentctl release ${a.name}\` (a new version stays quarantined until then)`);
  row(
    'last run',
    a.lastOutcome
      ? `${a.lastOutcome} at ${a.lastHeartbeat ?? '-'}${a.lastDurationMs !== null ? ` (${Math.round(a.lastDurationMs)} ms)` : ''}`
      : 'none yet',
  );
  row('next run', a.nextRunAt ?? '-');
  row('runs', `${a.cycles} cycles, ${a.failures} failed, ${a.consecutiveErrors} consecutive errors, ${a.restarts} restarts`);
  const f = a.lastFailure;
  if (!f) row('last error', 'none');
  else {
    const why = f.current
      ? ''
      : f.version !== null && f.version !== a.version
        ? ` (version ${f.version}; not current: version ${a.version} registered since)`
        : ' (not current: a later cycle succeeded)';
    row(f.current ? 'error' : 'last error', `at ${f.at ?? '-'}${f.current && f.version ? ` (version ${f.version})` : ''}${why}`);
    for (const l of (f.stack ?? f.error).split('\n')) lines.push(`  ${l}`);
  }
  return `${lines.join('\n')}\n`;
}

async function call(target: ApiTarget, method: 'GET' | 'POST', route: string, body?: unknown): Promise<unknown> {
  const r = await request(target, method, route, body);
  if (r.status < 200 || r.status >= 300) throw new OperationError(`${method} ${route} failed: ${describeError(r)}`);
  return r.json();
}

/** Follows /events/stream (SSE) and prints envelopes until interrupted. */
async function follow(target: ApiTarget, after: number, io: Io, filter: (e: LedgerEntryLike) => boolean): Promise<number> {
  const ctl = new AbortController();
  const stop = () => ctl.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let last = after;
  let failures = 0;
  // the function URL (signed for `lambda`) when given, else the API's one-batch /events/stream
  const stream = io.env.AGENT_STREAM_URL ? streamTarget(target, new URL(io.env.AGENT_STREAM_URL)) : null;
  try {
    while (!ctl.signal.aborted) {
      const url = stream?.base ?? routeUrl(target.base, '/events/stream');
      const headers = await authHeaders(stream ?? target, 'GET', url, undefined, {
        accept: 'text/event-stream',
        'last-event-id': String(last),
      });
      let retry = 2000;
      try {
        const res = await fetch(url, { headers, signal: ctl.signal });
        if (!res.ok || !res.body) {
          const text = await res.text();
          throw new OperationError(
            `GET /events/stream failed: ${describeError({ status: res.status, headers: res.headers, body: text, json: () => null })}`,
          );
        }
        failures = 0;
        const decoder = new TextDecoder();
        let buf = '';
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (!line || line.startsWith(':')) continue;
              const c = line.indexOf(':');
              const field = c < 0 ? line : line.slice(0, c);
              const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
              if (field === 'event') event = value;
              else if (field === 'data') data.push(value);
              else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
            }
            if (event !== 'envelope' || data.length === 0) continue;
            const e = JSON.parse(data.join('\n')) as LedgerEntryLike;
            if (e.seq <= last) continue;
            last = e.seq;
            if (filter(e)) io.stdout.write(entryLine(e));
          }
        }
      } catch (e) {
        if (ctl.signal.aborted) break;
        if (e instanceof OperationError && !/ 5\d\d /.test(e.message)) throw e;
        if (++failures >= 10) throw new OperationError(`event stream keeps failing: ${(e as Error).message}`);
      }
      if (!ctl.signal.aborted) await new Promise((r) => setTimeout(r, retry));
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return 0;
}

/** The filters of `agents` as query parameters, checked here (usage errors, exit 2). */
function agentsQuery(v: { status?: string | undefined; prefix?: string | undefined; limit?: string | undefined }): Record<string, string> {
  const q: Record<string, string> = {};
  if (v.status !== undefined) {
    if (!(AgentStatusSchema.options as readonly string[]).includes(v.status))
      throw new UsageError(`--status must be one of ${AgentStatusSchema.options.join(', ')}`);
    q.status = v.status;
  }
  if (v.prefix !== undefined) {
    if (!/^[a-z0-9-]{1,63}$/.test(v.prefix)) throw new UsageError('--prefix must be the start of an agent name ([a-z0-9-])');
    q.prefix = v.prefix;
  }
  if (v.limit !== undefined) {
    if (!/^[0-9]{1,4}$/.test(v.limit) || Number(v.limit) < 1 || Number(v.limit) > MAX_AGENT_PAGE)
      throw new UsageError(`--limit must be an integer from 1 to ${MAX_AGENT_PAGE}`);
    q.limit = v.limit;
  }
  return q;
}

export async function runOpsCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      api: { type: 'string' },
      iam: { type: 'boolean' },
      json: { type: 'boolean' },
      lines: { type: 'string', short: 'n' },
      follow: { type: 'boolean', short: 'f' },
      topic: { type: 'string' },
      agent: { type: 'string' },
      digests: { type: 'boolean' },
      status: { type: 'string' },
      prefix: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      all: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [cmd, ...args] = positionals;
  if (values.help) {
    io.stdout.write(OPS_HELP[cmd === 'ledger' ? `ledger ${args[0] ?? ''}`.trim() : (cmd ?? '')] ?? OPS_HELP['']!);
    return 0;
  }
  const target = () => resolveTarget({ api: values.api, iam: values.iam, env: io.env });
  const out = (v: unknown) => io.stdout.write(JSON.stringify(v, null, 2) + '\n');

  if (cmd === 'agents') {
    if (args.length) throw new UsageError('agents takes no arguments');
    const query = agentsQuery(values);
    const t = await target();
    // one page, or with --all every page in turn (each request bounded by --limit)
    const agents: AgentView[] = [];
    let cursor: string | null = values.cursor ?? null;
    do {
      const q = new URLSearchParams(query);
      if (cursor) q.set('cursor', cursor);
      const qs = q.toString();
      const body = (await call(t, 'GET', `/agents${qs ? `?${qs}` : ''}`)) as { agents: AgentView[]; cursor: string | null };
      agents.push(...body.agents);
      cursor = body.cursor;
    } while (values.all && cursor);
    if (values.json) {
      out({ agents, cursor });
      return 0;
    }
    const rows = [['NAME', 'VERSION', 'STATUS', 'CYCLE', 'LAST HEARTBEAT', 'NEXT RUN', 'ERRORS', 'RESTARTS', 'LAST ERROR']];
    for (const a of agents)
      rows.push([
        a.name,
        a.version,
        a.status,
        `${a.cycleSeconds}s`,
        a.lastHeartbeat ?? '-',
        a.nextRunAt ?? '-',
        String(a.consecutiveErrors),
        String(a.restarts),
        a.lastError ?? '',
      ]);
    io.stdout.write(agents.length ? table(rows) : query.status || query.prefix ? 'no matching agents\n' : 'no agents registered\n');
    if (cursor) io.stderr.write(`more agents: --cursor ${cursor} for the next page, --all for every page\n`);
    return 0;
  }

  if (cmd === 'logs') {
    const name = args[0];
    if (!name || args.length > 1) throw new UsageError('usage: agentctl logs NAME [-n N] [--follow] [--json]');
    if (!AGENT_NAME_RE.test(name)) throw new UsageError('agent name must match [a-z0-9][a-z0-9-]{1,62}');
    const n = values.lines === undefined ? 100 : /^[0-9]{1,4}$/.test(values.lines) ? Number(values.lines) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UsageError('-n must be an integer from 1 to 1000');
    const t = await target();
    const fetchLines = async (limit: number) =>
      ((await call(t, 'GET', `/agents/${name}/logs?limit=${limit}`)) as { lines: LogLineLike[] }).lines;
    let seen = keyed(await fetchLines(n));
    for (const [, l] of seen) io.stdout.write(values.json ? `${JSON.stringify(l)}\n` : logLine(l));
    if (!values.follow) return 0;
    const ctl = new AbortController();
    const stop = () => ctl.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      while (!ctl.signal.aborted) {
        await new Promise((r) => {
          const timer = setTimeout(r, 1000);
          ctl.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            r(undefined);
          });
        });
        if (ctl.signal.aborted) break;
        const now = keyed(await fetchLines(1000));
        for (const [k, l] of now) if (!seen.has(k)) io.stdout.write(values.json ? `${JSON.stringify(l)}\n` : logLine(l));
        seen = now;
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return 0;
  }

  if (cmd === 'agent') {
    const name = args[0];
    if (!name || args.length > 1) throw new UsageError('usage: agentctl agent NAME');
    if (!AGENT_NAME_RE.test(name)) throw new UsageError('agent name must match [a-z0-9][a-z0-9-]{1,62}');
    const body = (await call(await target(), 'GET', `/agents/${name}`)) as AgentDetail;
    if (values.json) out(body);
    else io.stdout.write(agentReport(body));
    return 0;
  }

  if ((AGENT_ACTIONS as readonly string[]).includes(cmd ?? '')) {
    const action = cmd as AgentAction;
    const name = args[0];
    if (!name || args.length > 1) throw new UsageError(`usage: agentctl ${action} NAME`);
    if (!AGENT_NAME_RE.test(name)) throw new UsageError('agent name must match [a-z0-9][a-z0-9-]{1,62}');
    const body = (await call(await target(), 'POST', `/agents/${name}/${action}`, {})) as {
      agent?: AgentView;
      runId?: string;
    };
    if (values.json) {
      out(body);
      return 0;
    }
    const status = body.agent ? ` (status ${body.agent.status})` : '';
    io.stdout.write(`${PAST[action]} ${name}${status}${body.runId ? `, run ${body.runId}` : ''}\n`);
    return 0;
  }

  if (cmd === 'ledger') {
    const sub = args[0];
    if (sub === 'verify') {
      if (args.length > 1) throw new UsageError('usage: agentctl ledger verify [--digests]');
      const r = (await call(await target(), 'GET', values.digests ? '/ledger/verify?digests=true' : '/ledger/verify')) as {
        ok: boolean;
        entries: number;
        head: string;
        firstBad: number | null;
        digests?: DigestCheck;
      };
      if (values.json) out(r);
      const d = r.digests;
      const digestLine = d
        ? `${d.checked} of ${d.total} digests checked${d.expired ? ` (${d.expired} of expired entries)` : ''}${
            d.lastMatching ? `, last matching: #${d.lastMatching.seq} anchored ${d.lastMatching.at}` : ''
          }`
        : '';
      if (!r.ok) {
        const why = d?.mismatched.length
          ? `; ${d.mismatched.length} digest(s) no longer match, first: ${d.mismatched[0]!.ref} (entry #${d.mismatched[0]!.seq} anchored ${d.mismatched[0]!.at} as ${d.mismatched[0]!.anchored.slice(0, 12)}…, now ${d.mismatched[0]!.found ? `${d.mismatched[0]!.found.slice(0, 12)}…` : 'missing'})`
          : '';
        throw new OperationError(`ledger verification FAILED: first bad entry #${r.firstBad} (${r.entries} entries checked)${why}`);
      }
      if (!values.json) io.stdout.write(`ledger ok: ${r.entries} entries, head ${r.head}${d ? `; ${digestLine}` : ''}\n`);
      return 0;
    }
    if (sub === 'tail') {
      if (args.length > 1) throw new UsageError('usage: agentctl ledger tail [-n N] [--follow] [--topic T] [--agent A]');
      const n = values.lines === undefined ? 20 : /^[0-9]{1,4}$/.test(values.lines) ? Number(values.lines) : NaN;
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UsageError('-n must be an integer from 1 to 1000');
      const t = await target();
      const filter = new URLSearchParams();
      if (values.topic) filter.set('topic', values.topic);
      if (values.agent) filter.set('agent', values.agent);
      // newest seq first, then the last n entries (of those matching the filter) from there
      const head = ((await call(t, 'GET', '/ledger?limit=1')) as { head: number }).head;
      const q = new URLSearchParams(filter);
      let after = Math.max(0, head - n);
      const lines: LedgerEntryLike[] = [];
      // with a filter, walk back in windows until n matching entries are found or the start
      for (let window = n; ; window *= 4) {
        after = Math.max(0, head - window);
        q.set('after', String(after));
        q.set('limit', String(Math.min(1000, head - after || 1)));
        lines.length = 0;
        let cursor: number | null = after;
        while (cursor !== null && cursor < head) {
          q.set('after', String(cursor));
          const page = (await call(t, 'GET', `/ledger?${q}`)) as { entries: LedgerEntryLike[]; next: number | null };
          lines.push(...page.entries.filter((e) => e.seq <= head));
          cursor = page.next;
        }
        if (lines.length >= n || after === 0 || !(values.topic || values.agent)) break;
      }
      const shown = lines.slice(-n);
      if (values.json) out(shown);
      else for (const e of shown) io.stdout.write(entryLine(e));
      if (!values.follow) return 0;
      const agent = values.agent;
      const match = (e: LedgerEntryLike) =>
        (!values.topic || e.topic === values.topic) &&
        (!agent || concernsAgent({ ...e, payload: e.payload as Record<string, unknown> }, agent));
      return follow(t, head, io, match);
    }
    throw new UsageError('usage: agentctl ledger verify [--digests] | ledger tail [-n N] [--follow]');
  }

  throw new UsageError(cmd ? `unknown command ${JSON.stringify(cmd)}` : 'missing command');
}
