/**
 * EventBridge event-pattern matcher: the local router applies the very patterns of
 * shared/definitions/routing.ts that the CDK stack installs as EventBridge rules. No maintained
 * JavaScript implementation exists, so this one covers the documented operators, following AWS's
 * reference implementation (aws/event-ruler) where the documentation is silent:
 *
 * - A pattern is a JSON object. Fields are ANDed; a field's value is either a nested pattern
 *   object or a non-empty array of matchers, which are ORed.
 * - Matchers: exact string / number / boolean / null; `prefix`, `suffix` (a string, or
 *   `{"equals-ignore-case": s}`); `equals-ignore-case`; `wildcard` (`*` = any run of characters,
 *   `\*` a literal star, `\\` a literal backslash, `**` refused); `anything-but` (a value, a list
 *   of all-strings or all-numbers, or `{prefix}` / `{suffix}` / `{wildcard}` (string or list) /
 *   `{"equals-ignore-case"}` (string or list)); `numeric` (`["=", n]`, or one or two comparisons,
 *   lower bound (`>`, `>=`) first, values within ±5e9); `exists` (true/false); `cidr` (IPv4 or
 *   IPv6, `addr/bits`).
 * - `"$or": [p1, p2, ...]` (two or more pattern objects) at any object level: at least one
 *   alternative must match the same object; combined with the sibling fields by AND.
 * - Arrays in events: a leaf field whose value is an array matches if any element matches (the
 *   intersection of the pattern's values and the event's values is non-empty); anything-but is
 *   evaluated per element too (so `["a","b"]` matches anything-but "a"). Arrays of objects are
 *   matched array-consistently: one nested pattern object must match within ONE element (the
 *   fields of `{"a": {"x": [1], "y": [2]}}` cannot come from different elements of `a`).
 * - Comparison operators work on leaf values only. `exists: true` needs at least one leaf value
 *   at the path (null counts, an object does not, an empty array does not); `exists: false` is
 *   its negation, so it also matches when the path holds an object (event-ruler's documented
 *   behaviour). All other matchers need the field to be present: a missing field matches
 *   nothing, not even anything-but.
 * - Type strictness: prefix, suffix, equals-ignore-case, wildcard and cidr match strings only;
 *   numeric matches numbers only; exact values match the same JSON type (5 does not match "5").
 *   anything-but excludes only what it names, so a value of another type (a number against
 *   anything-but "x" or anything-but {prefix}) matches.
 *
 * `compilePattern` validates once (InvalidPatternError with the path of the fault);
 * `matchesPattern` is a convenience for one-off checks. Pure: no I/O.
 */
import { BlockList, isIP } from 'node:net';
import { InvalidPatternError } from './errors';

type Leaf = string | number | boolean | null;
type LeafTest = (v: Leaf) => boolean;

interface LeafNode {
  kind: 'leaf';
  tests: LeafTest[];
  /** the operands of the list's `exists` matchers (usually none or one) */
  exists: boolean[];
}

interface ObjectNode {
  kind: 'object';
  fields: { key: string; node: LeafNode | ObjectNode }[];
  ors: ObjectNode[][];
}

export interface CompiledPattern {
  /** the pattern as given (JSON) */
  readonly source: unknown;
  matches(event: unknown): boolean;
}

/** Numeric matching range of EventBridge (event-ruler: ±5.0e9). */
export const NUMERIC_LIMIT = 5e9;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isLeafValue = (v: unknown): v is Leaf => v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
const lower = (s: string) => s.toLowerCase();
const at = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

function requireString(v: unknown, path: string, what: string): string {
  if (typeof v !== 'string') throw new InvalidPatternError(path, `${what} must be a string`);
  return v;
}

/** Compiles an EventBridge wildcard string into an anchored RegExp. */
export function wildcardToRegExp(pattern: string, path = ''): RegExp {
  let re = '^';
  let prevStar = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n !== '*' && n !== '\\') throw new InvalidPatternError(path, `wildcard: a backslash may only escape "*" or "\\" (at position ${i})`);
      re += n === '*' ? '\\*' : '\\\\';
      i++;
      prevStar = false;
      continue;
    }
    if (c === '*') {
      if (prevStar) throw new InvalidPatternError(path, 'wildcard: consecutive "*" are not allowed');
      re += '[\\s\\S]*';
      prevStar = true;
      continue;
    }
    prevStar = false;
    re += c.replace(/[.+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

function stringOrList(v: unknown, path: string, what: string): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return v as string[];
  throw new InvalidPatternError(path, `${what} must be a string or a non-empty list of strings`);
}

/** prefix/suffix operand: a string, or {"equals-ignore-case": string}. */
function affixOperand(v: unknown, path: string, op: string): { text: string; ignoreCase: boolean } {
  if (typeof v === 'string') return { text: v, ignoreCase: false };
  if (isObj(v) && Object.keys(v).length === 1 && 'equals-ignore-case' in v) {
    return { text: requireString(v['equals-ignore-case'], at(path, 'equals-ignore-case'), `${op} equals-ignore-case`), ignoreCase: true };
  }
  throw new InvalidPatternError(path, `${op} must be a string or {"equals-ignore-case": string}`);
}

function affixTest(op: 'prefix' | 'suffix', operand: { text: string; ignoreCase: boolean }): (s: string) => boolean {
  const t = operand.ignoreCase ? lower(operand.text) : operand.text;
  return (s) => {
    const v = operand.ignoreCase ? lower(s) : s;
    return op === 'prefix' ? v.startsWith(t) : v.endsWith(t);
  };
}

function compileCidr(v: unknown, path: string): LeafTest {
  const s = requireString(v, path, 'cidr');
  const m = /^(.+)\/(\d{1,3})$/.exec(s);
  const family = m ? isIP(m[1]!) : 0;
  if (!m || family === 0) throw new InvalidPatternError(path, `cidr must be "address/bits" with an IPv4 or IPv6 address, got ${JSON.stringify(s)}`);
  const bits = Number(m[2]);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (bits > (family === 4 ? 32 : 128)) throw new InvalidPatternError(path, `cidr prefix length ${bits} is too long for ${type}`);
  const list = new BlockList();
  list.addSubnet(m[1]!, bits, type);
  return (x) => {
    if (typeof x !== 'string') return false;
    const f = isIP(x);
    if (f === 0) return false;
    return list.check(x, f === 4 ? 'ipv4' : 'ipv6');
  };
}

function compileNumeric(v: unknown, path: string): LeafTest {
  if (!Array.isArray(v) || (v.length !== 2 && v.length !== 4)) throw new InvalidPatternError(path, 'numeric must be [op, number] or [lower-op, number, upper-op, number]');
  const parts: { op: string; n: number }[] = [];
  for (let i = 0; i < v.length; i += 2) {
    const op = v[i];
    const n = v[i + 1];
    if (typeof op !== 'string' || !['<', '<=', '=', '>', '>='].includes(op)) throw new InvalidPatternError(at(path, i), `unknown numeric operator ${JSON.stringify(op)}`);
    if (typeof n !== 'number' || !Number.isFinite(n)) throw new InvalidPatternError(at(path, i + 1), 'numeric operand must be a number');
    if (Math.abs(n) > NUMERIC_LIMIT) throw new InvalidPatternError(at(path, i + 1), `numeric operand must be between -${NUMERIC_LIMIT} and ${NUMERIC_LIMIT}`);
    parts.push({ op, n });
  }
  if (parts.length === 2) {
    const [lo, hi] = parts as [{ op: string; n: number }, { op: string; n: number }];
    if (!(lo.op === '>' || lo.op === '>=') || !(hi.op === '<' || hi.op === '<=')) {
      throw new InvalidPatternError(path, 'a numeric range is a lower bound (">" or ">=") followed by an upper bound ("<" or "<=")');
    }
    if (lo.n > hi.n) throw new InvalidPatternError(path, 'numeric range: the lower bound is above the upper bound');
  }
  const cmp = ({ op, n }: { op: string; n: number }) => (x: number) =>
    op === '<' ? x < n : op === '<=' ? x <= n : op === '=' ? x === n : op === '>' ? x > n : x >= n;
  const tests = parts.map(cmp);
  return (x) => typeof x === 'number' && tests.every((t) => t(x));
}

function compileAnythingBut(v: unknown, path: string): LeafTest {
  if (typeof v === 'string' || typeof v === 'number') return (x) => x !== v;
  if (Array.isArray(v)) {
    const allStrings = v.every((x) => typeof x === 'string');
    const allNumbers = v.every((x) => typeof x === 'number');
    if (v.length === 0 || !(allStrings || allNumbers)) throw new InvalidPatternError(path, 'anything-but list must be non-empty and all strings or all numbers');
    const set = new Set<unknown>(v);
    return (x) => !set.has(x);
  }
  if (isObj(v)) {
    const keys = Object.keys(v);
    if (keys.length !== 1) throw new InvalidPatternError(path, 'anything-but object must have exactly one of prefix, suffix, wildcard, equals-ignore-case');
    const op = keys[0]!;
    const operand = v[op];
    const p = at(path, op);
    switch (op) {
      case 'prefix':
      case 'suffix': {
        const t = affixTest(op, { text: requireString(operand, p, `anything-but ${op}`), ignoreCase: false });
        return (x) => typeof x !== 'string' || !t(x);
      }
      case 'wildcard': {
        const res = stringOrList(operand, p, 'anything-but wildcard').map((w) => wildcardToRegExp(w, p));
        return (x) => typeof x !== 'string' || !res.some((r) => r.test(x));
      }
      case 'equals-ignore-case': {
        const set = new Set(stringOrList(operand, p, 'anything-but equals-ignore-case').map(lower));
        return (x) => typeof x !== 'string' || !set.has(lower(x));
      }
      default:
        throw new InvalidPatternError(p, `anything-but does not support ${JSON.stringify(op)}`);
    }
  }
  throw new InvalidPatternError(path, 'anything-but must be a string, a number, a list, or an object');
}

function compileMatcher(m: unknown, path: string, node: LeafNode): void {
  if (isLeafValue(m)) {
    node.tests.push((x) => x === m);
    return;
  }
  if (!isObj(m)) throw new InvalidPatternError(path, 'a matcher must be a JSON value or an operator object');
  const keys = Object.keys(m);
  if (keys.length !== 1) throw new InvalidPatternError(path, `an operator object must have exactly one key, got ${keys.length}`);
  const op = keys[0]!;
  const v = m[op];
  const p = at(path, op);
  switch (op) {
    case 'prefix':
    case 'suffix': {
      const t = affixTest(op, affixOperand(v, p, op));
      node.tests.push((x) => typeof x === 'string' && t(x));
      return;
    }
    case 'equals-ignore-case': {
      const s = lower(requireString(v, p, 'equals-ignore-case'));
      node.tests.push((x) => typeof x === 'string' && lower(x) === s);
      return;
    }
    case 'wildcard': {
      const re = wildcardToRegExp(requireString(v, p, 'wildcard'), p);
      node.tests.push((x) => typeof x === 'string' && re.test(x));
      return;
    }
    case 'anything-but':
      node.tests.push(compileAnythingBut(v, p));
      return;
    case 'numeric':
      node.tests.push(compileNumeric(v, p));
      return;
    case 'exists':
      if (typeof v !== 'boolean') throw new InvalidPatternError(p, 'exists must be true or false');
      node.exists.push(v);
      return;
    case 'cidr':
      node.tests.push(compileCidr(v, p));
      return;
    default:
      throw new InvalidPatternError(p, `unknown operator ${JSON.stringify(op)}`);
  }
}

function compileObject(p: Record<string, unknown>, path: string): ObjectNode {
  const node: ObjectNode = { kind: 'object', fields: [], ors: [] };
  const keys = Object.keys(p);
  if (keys.length === 0) throw new InvalidPatternError(path, 'a pattern object must not be empty');
  for (const key of keys) {
    const v = p[key];
    const kp = at(path, key);
    if (key === '$or') {
      if (!Array.isArray(v) || v.length < 2) throw new InvalidPatternError(kp, '$or must be a list of at least two pattern objects');
      node.ors.push(
        v.map((alt, i) => {
          if (!isObj(alt)) throw new InvalidPatternError(at(kp, i), '$or alternatives must be pattern objects');
          return compileObject(alt, at(kp, i));
        }),
      );
      continue;
    }
    if (Array.isArray(v)) {
      if (v.length === 0) throw new InvalidPatternError(kp, 'a list of matchers must not be empty');
      const leaf: LeafNode = { kind: 'leaf', tests: [], exists: [] };
      v.forEach((m, i) => compileMatcher(m, at(kp, i), leaf));
      node.fields.push({ key, node: leaf });
    } else if (isObj(v)) {
      node.fields.push({ key, node: compileObject(v, kp) });
    } else {
      throw new InvalidPatternError(kp, 'a field must map to a list of matchers or to a nested pattern object');
    }
  }
  return node;
}

/** Values at a field, arrays flattened (event arrays, also nested ones, are sets of values). */
function flatten(v: unknown, out: unknown[]): unknown[] {
  if (Array.isArray(v)) for (const x of v) flatten(x, out);
  else if (v !== undefined) out.push(v);
  return out;
}

function matchLeaf(node: LeafNode, value: unknown): boolean {
  const leaves = flatten(value, []).filter(isLeafValue);
  for (const e of node.exists) if (e === leaves.length > 0) return true;
  for (const x of leaves) for (const t of node.tests) if (t(x)) return true;
  return false;
}

const EMPTY: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

function matchObject(node: ObjectNode, obj: Record<string, unknown>): boolean {
  for (const { key, node: sub } of node.fields) {
    const v = Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
    if (sub.kind === 'leaf') {
      if (!matchLeaf(sub, v)) return false;
    } else {
      // array-consistent: the whole nested pattern must match within one element
      const candidates = flatten(v, []).filter(isObj);
      if (candidates.length === 0) candidates.push(EMPTY);
      if (!candidates.some((c) => matchObject(sub, c))) return false;
    }
  }
  for (const alts of node.ors) if (!alts.some((alt) => matchObject(alt, obj))) return false;
  return true;
}

/** Validates a pattern (throws InvalidPatternError) and returns a reusable matcher. */
export function compilePattern(pattern: unknown): CompiledPattern {
  if (!isObj(pattern)) throw new InvalidPatternError('', 'an event pattern must be a JSON object');
  const root = compileObject(pattern, '');
  return {
    source: pattern,
    matches: (event: unknown) => isObj(event) && matchObject(root, event),
  };
}

/** One-off check (compiles the pattern each call; prefer compilePattern for repeated use). */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  return compilePattern(pattern).matches(event);
}
