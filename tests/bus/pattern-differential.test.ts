/**
 * Differential test of the pattern matcher (shared/core/bus/pattern.ts) against an independent
 * reference evaluator of the documented semantics (tests/bus/pattern-reference.ts).
 *
 * A seeded generator builds random events (strings with case variants and non-ASCII letters,
 * numbers within EventBridge's ±5e9, booleans, null, IPv4/IPv6 addresses, arrays of values,
 * nested objects, arrays of objects, missing fields) and, from each event, a pattern aimed at one
 * of its fields so that about half the cases match: one operator at a time (every operator
 * EventBridge documents), several fields, `$or` (also with a path repeated beside and inside it),
 * and fields under one array of objects (array consistency). Every generated pattern must compile
 * (they are all valid), and the matcher must give the reference's answer on every case. The tally
 * checks that every operator and every structure produced both matches and non-matches, so the
 * test cannot pass vacuously.
 *
 * Deterministic (fixed seed); to explore, run with PATTERN_SEED=<n> (PATTERN_TALLY=1 prints the
 * per-tag counts of matches and non-matches).
 */
import { describe, expect, it } from 'vitest';
import { compilePattern } from '../../shared/core/bus/pattern';
import { referenceMatches } from './pattern-reference';

type Leaf = string | number | boolean | null;
type Json = Leaf | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const SEED = Number(process.env.PATTERN_SEED ?? 20261125);
const CASES = 4000;

/** mulberry32: small, seeded, good enough for test data. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, chance: (p: number) => next() < p, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]! };
}
type Rng = ReturnType<typeof rng>;

// ------------------------------------------------------------------------------------------------
// events

const WORDS = [
  'alpha',
  'Alpha',
  'ALPHA',
  'alphabet',
  'beta',
  'Beta',
  'gamma',
  'orders.created',
  'agent.failed',
  'Agent.FAILED',
  'dir/sub/photo.PNG',
  'dir/lib/photo.png',
  'a*b',
  'a\\b',
  'x.y',
  '',
  'über',
  'Über',
  'ÜBER',
  'résumé',
  'RÉSUMÉ',
];
const NUMBERS = [0, 1, -1, 2, 5, 7, 10, 42, -13, 1.5, 0.25, -7.125, 301.8, 1000, 123456.789, 4999999999, -4999999999.5];
const IPS = [
  '10.0.0.1',
  '10.0.0.255',
  '10.0.1.7',
  '10.1.2.3',
  '192.168.1.20',
  '172.16.5.4',
  '2001:db8::1',
  '2001:db8:0:0:1::ff',
  '2001:db9::1',
  'fe80::1:2',
];
const KEYS = ['a', 'b', 'c', 'd', 'e'];

function genLeaf(r: Rng): Leaf {
  switch (r.int(7)) {
    case 0:
    case 1:
    case 2:
      return r.pick(WORDS);
    case 3:
    case 4:
      return r.pick(NUMBERS);
    case 5:
      return r.pick(IPS);
    default:
      return r.pick([true, false, null]);
  }
}

function genLeafArray(r: Rng): Json[] {
  if (r.chance(0.05)) return [];
  const xs: Json[] = Array.from({ length: 1 + r.int(3) }, () => genLeaf(r));
  return r.chance(0.1) ? [xs, [genLeaf(r)]] : xs;
}

function genObject(r: Rng, depth: number): Obj {
  const o: Obj = {};
  for (const k of KEYS) if (r.chance(0.6)) o[k] = genValue(r, depth);
  if (Object.keys(o).length === 0) o[r.pick(KEYS)] = genValue(r, depth);
  return o;
}

function genValue(r: Rng, depth: number): Json {
  const k = r.int(10);
  if (k <= 4) return genLeaf(r);
  if (k <= 6 || depth >= 2) return k <= 6 ? genLeafArray(r) : genLeaf(r);
  if (k === 7) return genObject(r, depth + 1);
  return Array.from({ length: 1 + r.int(3) }, () => genObject(r, depth + 1));
}

function genEvent(r: Rng): Obj {
  return { source: r.pick(['aws.ec2', 'agent-orchestrator', 'aws.s3']), 'detail-type': r.pick(WORDS), detail: genObject(r, 0) };
}

/** A leaf path of the event and what lies there. */
interface Target {
  path: string[];
  values: Leaf[];
  /** an array of objects lies on the way (the field sits in an element) */
  viaObjectArray: boolean;
  /** the values come from an array at the field itself */
  viaLeafArray: boolean;
}

function targets(event: Obj): Target[] {
  const byPath = new Map<string, Target>();
  const visit = (v: Json, path: string[], viaObjectArray: boolean, inLeafArray: boolean) => {
    if (Array.isArray(v)) {
      const objects = v.some((x) => typeof x === 'object' && x !== null && !Array.isArray(x));
      for (const x of v) visit(x, path, viaObjectArray || objects, inLeafArray || !objects);
      if (v.length === 0 && !byPath.has(path.join('.')))
        byPath.set(path.join('.'), { path, values: [], viaObjectArray, viaLeafArray: true });
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) visit(x, [...path, k], viaObjectArray, false);
    } else {
      const key = path.join('.');
      const t = byPath.get(key) ?? { path, values: [], viaObjectArray, viaLeafArray: false };
      t.values.push(v);
      t.viaObjectArray ||= viaObjectArray;
      t.viaLeafArray ||= inLeafArray;
      byPath.set(key, t);
    }
  };
  visit(event, [], false, false);
  return [...byPath.values()];
}

/** Objects reachable from the root without crossing an array (where a missing field is simple). */
function plainObjects(event: Obj): string[][] {
  const out: string[][] = [];
  const visit = (v: Json, path: string[]) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return;
    out.push(path);
    for (const [k, x] of Object.entries(v)) visit(x, [...path, k]);
  };
  visit(event, []);
  return out;
}

/** Arrays of objects in the event, with the leaf paths (relative to an element) of each element. */
function objectArrays(event: Obj): { path: string[]; elements: Target[][] }[] {
  const out: { path: string[]; elements: Target[][] }[] = [];
  const visit = (v: Json, path: string[]) => {
    if (Array.isArray(v)) {
      const objs = v.filter((x): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x));
      if (objs.length > 0) out.push({ path, elements: objs.map((o) => targets(o)) });
      return;
    }
    if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) visit(x, [...path, k]);
  };
  visit(event, []);
  return out;
}

// ------------------------------------------------------------------------------------------------
// matchers, one generator per operator: aimed at a value of the target, to hit or to miss

const OPERATORS = [
  'exact',
  'prefix',
  'prefix-ignore-case',
  'suffix',
  'suffix-ignore-case',
  'equals-ignore-case',
  'wildcard',
  'anything-but',
  'anything-but-list',
  'anything-but-prefix',
  'anything-but-suffix',
  'anything-but-ignore-case',
  'anything-but-wildcard',
  'numeric',
  'numeric-range',
  'exists-true',
  'exists-false',
  'cidr',
] as const;
type Operator = (typeof OPERATORS)[number];

const isIp = (v: Leaf) => typeof v === 'string' && IPS.includes(v);
const WANTS: Record<Operator, (v: Leaf) => boolean> = {
  exact: () => true,
  prefix: (v) => typeof v === 'string',
  'prefix-ignore-case': (v) => typeof v === 'string',
  suffix: (v) => typeof v === 'string',
  'suffix-ignore-case': (v) => typeof v === 'string',
  'equals-ignore-case': (v) => typeof v === 'string',
  wildcard: (v) => typeof v === 'string',
  'anything-but': (v) => typeof v === 'string' || typeof v === 'number',
  'anything-but-list': (v) => typeof v === 'string' || typeof v === 'number',
  'anything-but-prefix': (v) => typeof v === 'string',
  'anything-but-suffix': (v) => typeof v === 'string',
  'anything-but-ignore-case': (v) => typeof v === 'string',
  'anything-but-wildcard': (v) => typeof v === 'string',
  numeric: (v) => typeof v === 'number',
  'numeric-range': (v) => typeof v === 'number',
  'exists-true': () => true,
  'exists-false': () => true,
  cidr: isIp,
};

/** Flips the case of some letters (only letters with one-character case forms). */
function toggleCase(r: Rng, s: string): string {
  return [...s]
    .map((c) =>
      c.toUpperCase().length === 1 && c.toLowerCase().length === 1 && r.chance(0.5)
        ? c === c.toLowerCase()
          ? c.toUpperCase()
          : c.toLowerCase()
        : c,
    )
    .join('');
}

/** A wildcard pattern that matches `s` (some runs replaced by `*`), or, to miss, one that does not. */
function wildcardFor(r: Rng, s: string, hit: boolean): string {
  const esc = (c: string) => (c === '*' || c === '\\' ? `\\${c}` : c);
  const chars = [...(hit ? s : s + r.pick(['Z', 'q', '.png']))];
  let out = '';
  let star = false;
  for (let i = 0; i < chars.length; ) {
    if (!star && r.chance(0.25)) {
      out += '*';
      star = true;
      i += r.int(4);
      continue;
    }
    out += esc(chars[i]!);
    star = false;
    i++;
  }
  if (!hit && !out.includes('*') && s.length > 0) return out; // s + suffix, literal: cannot match s
  if (!hit) return `${out}${star ? '' : '*'}Zq`; // ends in a literal the word pool never ends with
  return out;
}

const str = (r: Rng, v: Leaf) => (typeof v === 'string' ? v : r.pick(WORDS));
const clamp = (n: number) => Math.max(-5e9, Math.min(5e9, n));

function ipv4Text(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
}
function ipv6Text(n: bigint): string {
  return Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
}
function ipValue(s: string): [bigint, number] {
  if (s.includes('.')) return [s.split('.').reduce((a, p) => (a << 8n) | BigInt(p), 0n), 32];
  const [h, t] = s.split('::');
  const hs = h ? h.split(':') : [];
  const ts = t ? t.split(':') : [];
  const groups = t === undefined ? hs : [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
  return [groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n), 128];
}

function cidrFor(r: Rng, ip: string, hit: boolean): string {
  const [n, width] = ipValue(ip);
  const bits = width === 32 ? r.int(32) : r.int(128);
  const hostBits = BigInt(width - bits);
  let net = (n >> hostBits) << hostBits;
  if (!hit && bits > 0) net ^= 1n << (hostBits + BigInt(r.int(bits))); // another network of that size
  return `${width === 32 ? ipv4Text(net) : ipv6Text(net)}/${bits}`;
}

function matcherFor(r: Rng, op: Operator, values: Leaf[]): unknown {
  const hit = r.chance(0.5);
  const v: Leaf = values.length > 0 ? r.pick(values) : genLeaf(r);
  const other = () => genLeaf(r);
  switch (op) {
    case 'exact':
      return hit ? v : other();
    case 'prefix':
    case 'prefix-ignore-case': {
      const s = hit ? str(r, v) : r.pick(WORDS) + 'q';
      const p = s.slice(0, r.int(s.length + 1));
      return op === 'prefix' ? { prefix: p } : { prefix: { 'equals-ignore-case': toggleCase(r, p) } };
    }
    case 'suffix':
    case 'suffix-ignore-case': {
      const s = hit ? str(r, v) : 'q' + r.pick(WORDS);
      const p = s.slice(r.int(s.length + 1));
      return op === 'suffix' ? { suffix: p } : { suffix: { 'equals-ignore-case': toggleCase(r, p) } };
    }
    case 'equals-ignore-case':
      return { 'equals-ignore-case': toggleCase(r, hit ? str(r, v) : r.pick(WORDS)) };
    case 'wildcard':
      return { wildcard: wildcardFor(r, str(r, v), hit) };
    case 'anything-but': {
      const same = typeof v === 'number' ? v : str(r, v);
      return { 'anything-but': hit ? same : typeof same === 'number' ? r.pick(NUMBERS) : r.pick(WORDS) };
    }
    case 'anything-but-list': {
      const numbers = typeof v === 'number';
      const list: Leaf[] = Array.from({ length: 1 + r.int(3) }, () => (numbers ? r.pick(NUMBERS) : r.pick(WORDS)));
      if (hit) list.push(numbers ? v : str(r, v));
      return { 'anything-but': [...new Set(list)] };
    }
    case 'anything-but-prefix':
    case 'anything-but-suffix': {
      const s = (hit ? str(r, v) : r.pick(WORDS)) || 'a';
      const cut = 1 + r.int(s.length);
      return op === 'anything-but-prefix'
        ? { 'anything-but': { prefix: s.slice(0, cut) } }
        : { 'anything-but': { suffix: s.slice(s.length - cut) } };
    }
    case 'anything-but-ignore-case': {
      const list = Array.from({ length: 1 + r.int(2) }, () => toggleCase(r, r.pick(WORDS)));
      if (hit) list.push(toggleCase(r, str(r, v)));
      return { 'anything-but': { 'equals-ignore-case': list.length === 1 ? list[0]! : list } };
    }
    case 'anything-but-wildcard': {
      const list = Array.from({ length: 1 + r.int(2) }, () => wildcardFor(r, r.pick(WORDS), r.chance(0.5)));
      if (hit) list.push(wildcardFor(r, str(r, v), true));
      return { 'anything-but': { wildcard: list.length === 1 ? list[0]! : list } };
    }
    case 'numeric': {
      const n = typeof v === 'number' ? v : r.pick(NUMBERS);
      const x = clamp(n + r.pick([0, 0, -1, 1, 0.5, -0.25]));
      return { numeric: [r.pick(['=', '<', '<=', '>', '>=']), x] };
    }
    case 'numeric-range': {
      const n = typeof v === 'number' ? v : r.pick(NUMBERS);
      const shift = hit ? 0 : r.pick([-10, 10]);
      let lo = clamp(n + shift - r.pick([0, 0.5, 1, 3]));
      let hi = clamp(n + shift + r.pick([0, 0.5, 1, 3]));
      if (lo >= hi) {
        lo = clamp(hi - 1);
        if (lo >= hi) hi = lo + 1;
      }
      return { numeric: [r.pick(['>', '>=']), lo, r.pick(['<', '<=']), hi] };
    }
    case 'exists-true':
      return { exists: true };
    case 'exists-false':
      return { exists: false };
    case 'cidr':
      return { cidr: cidrFor(r, isIp(v) ? (v as string) : r.pick(IPS), hit) };
  }
}

// ------------------------------------------------------------------------------------------------
// patterns

function nest(path: string[], leaf: unknown): Record<string, unknown> {
  return path.reduceRight<Record<string, unknown>>((inner, key) => ({ [key]: inner }), leaf as Record<string, unknown>);
}

/** Deep merge of nested patterns (a later leaf replaces an earlier one at the same path). */
function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const x = out[k];
    const isObj = (y: unknown): y is Record<string, unknown> => typeof y === 'object' && y !== null && !Array.isArray(y);
    out[k] = isObj(x) && isObj(v) ? merge(x, v) : v;
  }
  return out;
}

interface Case {
  pattern: Record<string, unknown>;
  event: Obj;
  tags: string[];
}

function pickTarget(r: Rng, op: Operator, ts: Target[], event: Obj): { path: string[]; values: Leaf[]; target?: Target } {
  // exists:false only where absence is unambiguous: no array of objects on the way
  const usable = op === 'exists-false' ? ts.filter((t) => !t.viaObjectArray) : ts;
  const missing = () => ({ path: [...r.pick(plainObjects(event)), r.pick(['zz', 'a', 'b'])], values: [] as Leaf[] });
  if ((op === 'exists-false' || op === 'exists-true') && r.chance(0.15)) {
    // an intermediate node: not a leaf, so it does not exist for `exists`
    const objects = plainObjects(event).filter((o) => o.length > 0);
    if (objects.length > 0) return { path: r.pick(objects), values: [] };
  }
  if ((op === 'exists-false' || op === 'exists-true') && r.chance(0.4)) {
    const m = missing();
    if (!ts.some((t) => t.path.join('.') === m.path.join('.')) && !plainObjects(event).some((o) => o.join('.') === m.path.join('.')))
      return m;
  }
  const good = usable.filter((t) => t.values.some(WANTS[op]));
  const target = good.length > 0 && !r.chance(0.1) ? r.pick(good) : usable.length > 0 ? r.pick(usable) : undefined;
  if (!target) return missing();
  return {
    path: target.path,
    values: target.values.filter(WANTS[op]).length > 0 ? target.values.filter(WANTS[op]) : target.values,
    target,
  };
}

function structureTags(t: Target | undefined): string[] {
  if (!t) return [];
  return [
    ...(t.viaLeafArray ? ['array'] : []),
    ...(t.viaObjectArray ? ['array-of-objects'] : []),
    ...(t.path.length >= 3 ? ['nested'] : []),
  ];
}

/** One field, one operator: the outcome is that operator's. */
function singleCase(r: Rng, event: Obj): Case {
  const op = r.pick(OPERATORS);
  const { path, values, target } = pickTarget(r, op, targets(event), event);
  const matchers = [matcherFor(r, op, values)];
  return { pattern: nest(path, matchers), event, tags: [op, ...structureTags(target)] };
}

/** A field with one or two matchers of random operators (exists:false only where unambiguous). */
function randomField(r: Rng, event: Obj): { pattern: Record<string, unknown>; tags: string[] } {
  const op = r.pick(OPERATORS);
  const { path, values, target } = pickTarget(r, op, targets(event), event);
  const matchers = [matcherFor(r, op, values)];
  if (r.chance(0.3)) {
    const op2 = r.pick(OPERATORS.filter((o) => o !== 'exists-false' || !target?.viaObjectArray));
    matchers.push(matcherFor(r, op2, values));
  }
  return { pattern: nest(path, matchers), tags: structureTags(target) };
}

function multiFieldCase(r: Rng, event: Obj): Case {
  let pattern: Record<string, unknown> = {};
  const tags = ['multi-field'];
  for (let i = 0; i < 2 + r.int(2); i++) {
    const f = randomField(r, event);
    pattern = merge(pattern, f.pattern);
    tags.push(...f.tags);
  }
  return { pattern, event, tags };
}

function orCase(r: Rng, event: Obj): Case {
  const tags = ['$or'];
  const base = Array.from({ length: r.int(3) }, () => randomField(r, event).pattern);
  const alternatives = Array.from({ length: 2 + r.int(2) }, () => {
    let alt: Record<string, unknown> = {};
    for (let i = 0; i < 1 + r.int(2); i++) alt = merge(alt, randomField(r, event).pattern);
    // sometimes the same path beside and inside the $or: the later one counts
    if (base.length > 0 && r.chance(0.3)) {
      const path = leafPaths(r.pick(base))[0]!;
      alt = merge(alt, nest(path, [matcherFor(r, 'exact', [])]));
      tags.push('$or-repeated-path');
    }
    return alt;
  });
  const fields = base.reduce<Record<string, unknown>>((acc, p) => merge(acc, p), {});
  // the $or before or after its siblings (key order decides which repeated path counts)
  const pattern = r.chance(0.5) ? { $or: alternatives, ...fields } : { ...fields, $or: alternatives };
  return { pattern, event, tags };
}

function leafPaths(p: Record<string, unknown>, prefix: string[] = []): string[][] {
  return Object.entries(p).flatMap(([k, v]) =>
    Array.isArray(v)
      ? [[...prefix, k]]
      : typeof v === 'object' && v !== null
        ? leafPaths(v as Record<string, unknown>, [...prefix, k])
        : [],
  );
}

/** Two fields under one array of objects: they must come from the same element. */
function arrayConsistencyCase(r: Rng, event: Obj): Case | undefined {
  const arrays = objectArrays(event).filter((a) => a.elements.some((e) => e.length > 0));
  if (arrays.length === 0) return undefined;
  const a = r.pick(arrays);
  const fields = a.elements.flat();
  let inner: Record<string, unknown> = {};
  for (let i = 0; i < 2; i++) {
    const t = r.pick(fields);
    const op = r.pick(OPERATORS.filter((o) => o !== 'exists-false'));
    const values = t.values.filter(WANTS[op]).length > 0 ? t.values.filter(WANTS[op]) : t.values;
    inner = merge(inner, nest(t.path, [matcherFor(r, r.chance(0.6) ? 'exact' : op, values)]));
  }
  return { pattern: nest(a.path, inner), event, tags: ['array-of-objects', 'array-consistency'] };
}

function genCase(r: Rng): Case {
  const event = genEvent(r);
  const kind = r.int(10);
  if (kind < 5) return singleCase(r, event);
  if (kind < 7) return multiFieldCase(r, event);
  if (kind < 9) return orCase(r, event);
  return arrayConsistencyCase(r, event) ?? singleCase(r, event);
}

// ------------------------------------------------------------------------------------------------

describe('pattern matcher vs the reference evaluator (seeded generator)', () => {
  it(`agrees on ${CASES} generated cases, with matches and non-matches for every operator and structure`, () => {
    const r = rng(SEED);
    const tally = new Map<string, { match: number; noMatch: number }>();
    const disagreements: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const c = genCase(r);
      const expected = referenceMatches(c.pattern, c.event);
      let actual: boolean;
      try {
        actual = compilePattern(c.pattern).matches(c.event);
      } catch (e) {
        disagreements.push(`case ${i}: refused a valid pattern (${(e as Error).message})\n  pattern ${JSON.stringify(c.pattern)}`);
        continue;
      }
      if (actual !== expected) {
        disagreements.push(
          `case ${i}: expected ${expected}, got ${actual}\n  pattern ${JSON.stringify(c.pattern)}\n  event   ${JSON.stringify(c.event)}`,
        );
      }
      for (const tag of new Set(c.tags)) {
        const t = tally.get(tag) ?? { match: 0, noMatch: 0 };
        if (expected) t.match++;
        else t.noMatch++;
        tally.set(tag, t);
      }
    }
    expect(disagreements.slice(0, 5).join('\n')).toBe('');
    expect(disagreements).toHaveLength(0);

    if (process.env.PATTERN_TALLY) console.log(JSON.stringify(Object.fromEntries(tally)));
    // not vacuous: every operator and structure was seen matching and not matching
    const required = [...OPERATORS, 'array', 'nested', 'array-of-objects', 'array-consistency', 'multi-field', '$or', '$or-repeated-path'];
    const thin = required.filter((tag) => (tally.get(tag)?.match ?? 0) < 10 || (tally.get(tag)?.noMatch ?? 0) < 10);
    expect(thin.map((tag) => `${tag}: ${JSON.stringify(tally.get(tag) ?? null)}`)).toEqual([]);
  });
});
