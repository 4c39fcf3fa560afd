/**
 * EventBridge event-pattern matcher: the local router applies the very patterns of
 * shared/definitions/routing.ts that the CDK stack installs as EventBridge rules, and compiling a
 * pattern is local mode's PutRule validation. No maintained JavaScript implementation exists, so
 * this one follows EventBridge's documentation and, where the documentation is silent, AWS's
 * reference implementation (aws/event-ruler, `Machine.addRule` + `rulesForJSONEvent`).
 * docs/event-patterns.md has the operator table, the sources, and every known difference.
 *
 * Compiling (`compilePattern`, InvalidPatternError with the path of the fault):
 * - A pattern is a JSON object; a field maps to a nested pattern object or to a non-empty list of
 *   matchers (ORed); fields are ANDed.
 * - `"$or": [p1, p2, ...]` (two or more pattern objects) at any level is expanded, as event-ruler
 *   does, into branches (an OR of ANDs over leaf paths). A path written beside the `$or` and inside
 *   an alternative is one path: the later one in the pattern's key order replaces the earlier
 *   (EventBridge: "if you include a key more than once the last reference will be the one used").
 *   Inside an alternative, operator names (`prefix`, `numeric`, `=`, ...) cannot name fields.
 *   When a pattern cannot be read with `$or` as the OR primitive (not a list of two or more
 *   objects, or a reserved name inside), it is read again with `$or` as an ordinary field name,
 *   event-ruler's backward-compatible reading; if that fails too, the first error is reported.
 * - Matchers: exact string / number / boolean / null (an exact string that is an IP address
 *   literal matches the same address written differently, as in event-ruler); `prefix`, `suffix`
 *   (a string, or `{"equals-ignore-case": s}`); `equals-ignore-case`; `wildcard` (`*` any run,
 *   `\*` a star, `\\` a backslash, `**` refused); `anything-but` (a string or number, a non-empty
 *   list of all strings or all numbers, `{prefix}` / `{suffix}` with ONE non-empty string,
 *   `{wildcard}` / `{equals-ignore-case}` with a string or a list); `numeric` (`["=", n]` or one
 *   or two comparisons, lower bound first, lower strictly below upper, operands within ±5e9);
 *   `exists` (true/false); `cidr` (`address/bits`, IPv4 /0-/31, IPv6 /0-/127).
 *
 * Matching:
 * - Event arrays are sets of values: a leaf field matches if any of its values does (anything-but
 *   too, per value). Array consistency (event-ruler's rulesForJSONEvent): the fields one branch
 *   matches may not come from different elements of the same array, so `{"a": {"x": [1],
 *   "y": [2]}}` needs x and y in ONE element of `a`.
 * - Type strictness: prefix, suffix, equals-ignore-case, wildcard and cidr match strings only;
 *   numeric matches numbers only; exact values match the same JSON type. anything-but excludes
 *   only what it names (a number passes anything-but "x"), but needs the field present.
 * - equals-ignore-case (and its prefix/suffix/anything-but forms) folds case as event-ruler does:
 *   each character c of the pattern matches c.toLowerCase() or c.toUpperCase() in the event, and
 *   the event is not folded ("ß" matches "SS", "SS" does not match "ß").
 * - `exists` looks at leaf values only: true needs at least one (null counts; an object or an
 *   empty array does not), false needs none. Under an array of objects, exists:false asks whether
 *   the field occurs anywhere consistent with the fields matched before it in event-ruler's
 *   (sorted path) order: `{"t": {"u": [{"exists": false}]}}` does not match `t: [{u: 1}, {v: 1}]`.
 *
 * Evaluation: each branch is a tree walked recursively (the fast path). The tree is exact except
 * for exists:false under an array of objects, where it can only over-match; when such a test
 * decided a match, the branch is re-checked by `matchExact`, a direct transcription of
 * event-ruler's search (sorted fields, array memberships). Pure: no I/O.
 */
import { InvalidPatternError } from './errors';

type Leaf = string | number | boolean | null;
type LeafTest = (v: Leaf) => boolean;

interface LeafNode {
  kind: 'leaf';
  tests: LeafTest[];
  existsTrue: boolean;
  existsFalse: boolean;
}

interface ObjectNode {
  kind: 'object';
  fields: { key: string; node: LeafNode | ObjectNode }[];
}

/** One alternative of the pattern (an AND over leaf paths). */
interface Branch {
  root: ObjectNode;
  /** the leaf paths in event-ruler's order (sorted by dotted name), for `matchExact` */
  sorted: { path: string[]; leaf: LeafNode }[];
  /** a path is both a leaf and an object in this branch: the tree cannot decide, always exact */
  exactOnly: boolean;
}

export interface CompiledPattern {
  /** the pattern as given (JSON) */
  readonly source: unknown;
  matches(event: unknown): boolean;
}

/** Numeric matching range EventBridge documents ("between -5.0e9 and +5.0e9 inclusive"). */
export const NUMERIC_LIMIT = 5e9;

/** event-ruler's limit on the fields of one branch (GenericMachine.MAXIMUM_RULE_SIZE). */
const MAX_BRANCH_FIELDS = 256;
/** Local guard against `$or` combinations exploding (no EventBridge figure is documented). */
const MAX_BRANCHES = 10_000;

/** Names event-ruler reserves inside `$or` (Constants.RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP). */
const RESERVED_IN_OR = new Set([
  'exactly',
  'equals-ignore-case',
  'prefix',
  'suffix',
  'anything-but',
  'exists',
  'wildcard',
  'numeric',
  'cidr',
  '=',
  '<',
  '<=',
  '>',
  '>=',
  'regex',
  'not-wildcard',
  'not-equals-ignore-case',
  'date-after',
  'date-on-or-after',
  'date-before',
  'date-on-or-before',
  'in-date-range',
  'ip-address-in-range',
  'ip-address-not-in-range',
]);

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isLeafValue = (v: unknown): v is Leaf => v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
const hasOwn = (o: object, k: string) => Object.hasOwn(o, k);
const at = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

function requireString(v: unknown, path: string, what: string): string {
  if (typeof v !== 'string') throw new InvalidPatternError(path, `${what} must be a string`);
  return v;
}

// ------------------------------------------------------------------------------------------------
// string operators

/** Compiles an EventBridge wildcard string into an anchored RegExp. */
export function wildcardToRegExp(pattern: string, path = ''): RegExp {
  let re = '^';
  let prevStar = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n !== '*' && n !== '\\')
        throw new InvalidPatternError(path, `wildcard: a backslash may only escape "*" or "\\" (at position ${i})`);
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

/** A string as a RegExp source of \uXXXX escapes (safe anywhere in a pattern, no `u` flag). */
const reLiteral = (s: string) => Array.from({ length: s.length }, (_, i) => `\\u${s.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');

/**
 * RegExp source matching `text` case-insensitively the way event-ruler does
 * (input/EqualsIgnoreCaseParser): each character c of the pattern stands for c.toLowerCase() or
 * c.toUpperCase() (Locale.ROOT, which JavaScript's locale-free case mapping equals); the event's
 * characters are compared as they are. Characters are taken by code point (event-ruler takes
 * UTF-16 units, see docs/event-patterns.md).
 */
function foldedSource(text: string): string {
  let re = '';
  for (const ch of text) {
    const lo = ch.toLowerCase();
    const up = ch.toUpperCase();
    if (lo === up) re += reLiteral(lo);
    else if (lo.length === 1 && up.length === 1) re += `[${reLiteral(lo)}${reLiteral(up)}]`;
    else re += `(?:${reLiteral(lo)}|${reLiteral(up)})`;
  }
  return re;
}

function foldedRegExp(texts: string[], anchor: 'equals' | 'prefix' | 'suffix'): RegExp {
  const body = texts.length === 1 ? foldedSource(texts[0]!) : `(?:${texts.map(foldedSource).join('|')})`;
  return new RegExp(anchor === 'equals' ? `^${body}$` : anchor === 'prefix' ? `^${body}` : `${body}$`);
}

/** prefix/suffix operand: a string, or {"equals-ignore-case": string}. */
function affixTest(op: 'prefix' | 'suffix', v: unknown, path: string): (s: string) => boolean {
  if (typeof v === 'string') return op === 'prefix' ? (s) => s.startsWith(v) : (s) => s.endsWith(v);
  if (isObj(v) && Object.keys(v).length === 1 && 'equals-ignore-case' in v) {
    const re = foldedRegExp([requireString(v['equals-ignore-case'], at(path, 'equals-ignore-case'), `${op} equals-ignore-case`)], op);
    return (s) => re.test(s);
  }
  throw new InvalidPatternError(path, `${op} must be a string or {"equals-ignore-case": string}`);
}

function stringOrList(v: unknown, path: string, what: string): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return v as string[];
  throw new InvalidPatternError(path, `${what} must be a string or a non-empty list of strings`);
}

// ------------------------------------------------------------------------------------------------
// IP addresses, as event-ruler reads them (CIDR.java through java.net.InetAddress)

const IPV4_RE = /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/;
const IPV6_RE = /^[0-9a-fA-F:]*:[0-9a-fA-F:]*$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * The bytes of an IP address literal, or null. IPv4: four decimal parts (leading zeros are
 * decimal, "010.000.000.001" is 10.0.0.1), each at most 255, at most 15 characters. IPv6: hex
 * groups and colons only (no embedded dotted IPv4, no zone); an IPv4-mapped address
 * (::ffff:a.b.c.d written in hex) is the IPv4 address, 4 bytes, as Java reads it.
 */
export function parseIpLiteral(s: string): Uint8Array | null {
  if (IPV4_RE.test(s)) {
    if (s.length > 15) return null;
    const bytes = new Uint8Array(4);
    const parts = s.split('.');
    for (let i = 0; i < 4; i++) {
      const n = Number(parts[i]);
      if (n > 255) return null;
      bytes[i] = n;
    }
    return bytes;
  }
  if (!IPV6_RE.test(s)) return null;
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return null;
  const split = (t: string) => (t === '' ? [] : t.split(':'));
  const head = dbl === -1 ? split(s) : split(s.slice(0, dbl));
  const tail = dbl === -1 ? [] : split(s.slice(dbl + 2));
  if (dbl === -1 ? head.length !== 8 : head.length + tail.length > 7) return null;
  const groups = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!HEX_GROUP.test(g)) return null;
    const n = parseInt(g, 16);
    bytes[2 * i] = n >> 8;
    bytes[2 * i + 1] = n & 0xff;
  }
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12);
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function compileCidr(v: unknown, path: string): LeafTest {
  const s = requireString(v, path, 'cidr');
  // Java's String.split("/") drops trailing empty strings
  const parts = s.split('/');
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length !== 2)
    throw new InvalidPatternError(path, `cidr: malformed CIDR, one '/' required (an address/bits), got ${JSON.stringify(s)}`);
  if (!/^[+-]?\d{1,10}$/.test(parts[1]!))
    throw new InvalidPatternError(path, `cidr: malformed CIDR, mask bits must be an integer, got ${JSON.stringify(s)}`);
  const bits = Number(parts[1]);
  if (bits < 0) throw new InvalidPatternError(path, 'cidr: malformed CIDR, mask bits must not be negative');
  const base = parseIpLiteral(parts[0]!);
  if (!base)
    throw new InvalidPatternError(
      path,
      `cidr: nonstandard IP address ${JSON.stringify(parts[0])} (IPv4 dotted decimal, or IPv6 in hex groups without an embedded IPv4)`,
    );
  const v4 = base.length === 4;
  const full = v4 ? 32 : 128;
  if (bits >= full) {
    const hint =
      bits === full ? ' (a full-length mask is refused too; to match one address, write the address itself as an exact value)' : '';
    const mapped = v4 && parts[0]!.includes(':') ? ` (${parts[0]} is IPv4-mapped: it is read as the IPv4 address ${base.join('.')})` : '';
    throw new InvalidPatternError(path, `cidr: ${v4 ? 'IPv4' : 'IPv6'} mask bits must be < ${full}, got /${bits}${hint}${mapped}`);
  }
  const mask = new Uint8Array(base.length);
  for (let i = 0; i < mask.length; i++) mask[i] = 0xff & (0xff << Math.max(0, Math.min(8, 8 * (i + 1) - bits)));
  const net = base.map((b, i) => b & mask[i]!);
  return (x) => {
    if (typeof x !== 'string') return false;
    const ip = parseIpLiteral(x);
    if (!ip || ip.length !== net.length) return false;
    for (let i = 0; i < ip.length; i++) if ((ip[i]! & mask[i]!) !== net[i]) return false;
    return true;
  };
}

// ------------------------------------------------------------------------------------------------
// numeric, anything-but, the matcher list

function compileNumeric(v: unknown, path: string): LeafTest {
  if (!Array.isArray(v) || (v.length !== 2 && v.length !== 4))
    throw new InvalidPatternError(path, 'numeric must be [op, number] or [lower-op, number, upper-op, number]');
  const parts: { op: string; n: number }[] = [];
  for (let i = 0; i < v.length; i += 2) {
    const op = v[i];
    const n = v[i + 1];
    if (typeof op !== 'string' || !['<', '<=', '=', '>', '>='].includes(op))
      throw new InvalidPatternError(at(path, i), `unknown numeric operator ${JSON.stringify(op)}`);
    if (typeof n !== 'number' || !Number.isFinite(n)) throw new InvalidPatternError(at(path, i + 1), 'numeric operand must be a number');
    // EventBridge documents numeric matching "between -5.0e9 and +5.0e9 inclusive"; event-ruler
    // alone accepts any double (docs/event-patterns.md)
    if (Math.abs(n) > NUMERIC_LIMIT)
      throw new InvalidPatternError(at(path, i + 1), `numeric operand must be between -${NUMERIC_LIMIT} and ${NUMERIC_LIMIT}`);
    parts.push({ op, n });
  }
  if (parts.length === 2) {
    const [lo, hi] = parts as [{ op: string; n: number }, { op: string; n: number }];
    if (!(lo.op === '>' || lo.op === '>=') || !(hi.op === '<' || hi.op === '<=')) {
      throw new InvalidPatternError(path, 'a numeric range is a lower bound (">" or ">=") followed by an upper bound ("<" or "<=")');
    }
    // event-ruler (Range.ensureValidRange): "Bottom must be less than top", equal bounds included
    if (lo.n >= hi.n) {
      const hint = lo.n === hi.n ? ` (for one value write ["=", ${lo.n}])` : '';
      throw new InvalidPatternError(path, `numeric range: bottom must be less than top, got ${lo.n} and ${hi.n}${hint}`);
    }
    const { n: a } = lo;
    const { n: b } = hi;
    if (lo.op === '>')
      return hi.op === '<' ? (x) => typeof x === 'number' && x > a && x < b : (x) => typeof x === 'number' && x > a && x <= b;
    return hi.op === '<' ? (x) => typeof x === 'number' && x >= a && x < b : (x) => typeof x === 'number' && x >= a && x <= b;
  }
  const { op, n } = parts[0]!;
  switch (op) {
    case '<':
      return (x) => typeof x === 'number' && x < n;
    case '<=':
      return (x) => typeof x === 'number' && x <= n;
    case '=':
      return (x) => typeof x === 'number' && x === n;
    case '>':
      return (x) => typeof x === 'number' && x > n;
    default:
      return (x) => typeof x === 'number' && x >= n;
  }
}

function compileAnythingBut(v: unknown, path: string): LeafTest {
  if (typeof v === 'string' || typeof v === 'number') return (x) => x !== v;
  if (Array.isArray(v)) {
    const allStrings = v.every((x) => typeof x === 'string');
    const allNumbers = v.every((x) => typeof x === 'number');
    if (v.length === 0 || !(allStrings || allNumbers))
      throw new InvalidPatternError(path, 'anything-but list must be non-empty and all strings or all numbers');
    const set = new Set<unknown>(v);
    return (x) => !set.has(x);
  }
  if (isObj(v)) {
    const keys = Object.keys(v);
    if (keys.length !== 1)
      throw new InvalidPatternError(path, 'anything-but object must have exactly one of prefix, suffix, wildcard, equals-ignore-case');
    const op = keys[0]!;
    const operand = v[op];
    const p = at(path, op);
    switch (op) {
      case 'prefix':
      case 'suffix': {
        if (Array.isArray(operand)) {
          // deliberate: EventBridge documents one value ("only works with a single prefix, not a
          // list"); event-ruler alone accepts a list (docs/event-patterns.md)
          const example = op === 'prefix' ? '["a*", "b*"]' : '["*a", "*b"]';
          throw new InvalidPatternError(
            p,
            `anything-but ${op} takes a single string: EventBridge documents anything-but ${op} with one value, not a list (to exclude several, use {"anything-but": {"wildcard": ${example}}})`,
          );
        }
        const text = requireString(operand, p, `anything-but ${op}`);
        // event-ruler: "Null prefix/suffix not allowed"
        if (text === '') throw new InvalidPatternError(p, `anything-but ${op} must not be empty (null prefix/suffix not allowed)`);
        return op === 'prefix' ? (x) => typeof x !== 'string' || !x.startsWith(text) : (x) => typeof x !== 'string' || !x.endsWith(text);
      }
      case 'wildcard': {
        const res = stringOrList(operand, p, 'anything-but wildcard').map((w) => wildcardToRegExp(w, p));
        return (x) => typeof x !== 'string' || !res.some((r) => r.test(x));
      }
      case 'equals-ignore-case': {
        const re = foldedRegExp(stringOrList(operand, p, 'anything-but equals-ignore-case'), 'equals');
        return (x) => typeof x !== 'string' || !re.test(x);
      }
      default:
        throw new InvalidPatternError(p, `anything-but does not support ${JSON.stringify(op)}`);
    }
  }
  throw new InvalidPatternError(path, 'anything-but must be a string, a number, a list, or an object');
}

function exactTest(m: Leaf): LeafTest {
  if (typeof m === 'string') {
    // event-ruler compiles an exact string that is an IP address literal into an address match
    // (JsonRuleCompiler: CIDR.ipToRangeIfPossible), so "10.0.0.1" matches "010.000.000.001"
    const ip = parseIpLiteral(m);
    if (ip) {
      return (x) => {
        if (typeof x !== 'string') return false;
        if (x === m) return true;
        const other = parseIpLiteral(x);
        return other !== null && sameBytes(ip, other);
      };
    }
  }
  return (x) => x === m;
}

function compileMatcher(m: unknown, path: string, node: LeafNode): void {
  if (isLeafValue(m)) {
    node.tests.push(exactTest(m));
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
      const t = affixTest(op, v, p);
      node.tests.push((x) => typeof x === 'string' && t(x));
      return;
    }
    case 'equals-ignore-case': {
      const re = foldedRegExp([requireString(v, p, 'equals-ignore-case')], 'equals');
      node.tests.push((x) => typeof x === 'string' && re.test(x));
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
      if (v) node.existsTrue = true;
      else node.existsFalse = true;
      return;
    case 'cidr':
      node.tests.push(compileCidr(v, p));
      return;
    case 'exactly':
      // event-ruler has it; EventBridge's list of comparison operators does not
      throw new InvalidPatternError(
        p,
        'unknown operator "exactly" (an event-ruler operator that EventBridge does not document; write the string itself)',
      );
    default:
      throw new InvalidPatternError(p, `unknown operator ${JSON.stringify(op)}`);
  }
}

function compileLeaf(list: unknown[], path: string): LeafNode {
  if (list.length === 0) throw new InvalidPatternError(path, 'a list of matchers must not be empty');
  const leaf: LeafNode = { kind: 'leaf', tests: [], existsTrue: false, existsFalse: false };
  for (const [i, m] of list.entries()) compileMatcher(m, at(path, i), leaf);
  return leaf;
}

// ------------------------------------------------------------------------------------------------
// the pattern object: branches (event-ruler's JsonRuleCompiler), then one tree per branch

/** A branch while compiling: leaf path (JSON of its segments) → path and matchers. */
type Draft = Map<string, { path: string[]; leaf: LeafNode }>;

interface Reading {
  /** `$or` is the OR primitive (JsonRuleCompiler) or an ordinary field name (RuleCompiler) */
  orPrimitive: boolean;
  insideOr: boolean;
}

/**
 * Adds the fields of `p` (at `segs`) to every branch, in key order, as JsonRuleCompiler does: a
 * list is written into each branch (replacing the same path written earlier), a `$or` forks every
 * branch once per alternative.
 */
function compileFields(p: Record<string, unknown>, path: string, segs: string[], branches: Draft[], reading: Reading): Draft[] {
  const keys = Object.keys(p);
  if (keys.length === 0) throw new InvalidPatternError(path, 'a pattern object must not be empty');
  for (const key of keys) {
    const v = p[key];
    const kp = at(path, key);
    if (key === '$or' && reading.orPrimitive) {
      if (!Array.isArray(v) || v.length < 2) throw new InvalidPatternError(kp, '$or must be a list of at least two pattern objects');
      const next: Draft[] = [];
      v.forEach((alt, i) => {
        if (!isObj(alt)) throw new InvalidPatternError(at(kp, i), '$or alternatives must be pattern objects');
        next.push(
          ...compileFields(
            alt,
            at(kp, i),
            segs,
            branches.map((b) => new Map(b)),
            { orPrimitive: true, insideOr: true },
          ),
        );
      });
      if (next.length > MAX_BRANCHES)
        throw new InvalidPatternError(kp, `$or combinations expand to more than ${MAX_BRANCHES} alternatives`);
      branches = next;
      continue;
    }
    if (reading.insideOr && RESERVED_IN_OR.has(key)) {
      throw new InvalidPatternError(kp, `"${key}" is a reserved word (an operator name) that cannot name a field inside $or`);
    }
    if (Array.isArray(v)) {
      const leaf = compileLeaf(v, kp);
      const fieldPath = [...segs, key];
      const id = JSON.stringify(fieldPath);
      for (const b of branches) b.set(id, { path: fieldPath, leaf });
    } else if (isObj(v)) {
      branches = compileFields(v, kp, [...segs, key], branches, reading);
    } else {
      throw new InvalidPatternError(kp, 'a field must map to a list of matchers or to a nested pattern object');
    }
  }
  return branches;
}

function mentionsOr(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(mentionsOr);
  if (!isObj(v)) return false;
  return Object.keys(v).some((k) => k === '$or' || mentionsOr(v[k]));
}

function toBranch(draft: Draft): Branch {
  if (draft.size > MAX_BRANCH_FIELDS)
    throw new InvalidPatternError('', `a pattern (or one $or alternative) may not have more than ${MAX_BRANCH_FIELDS} fields`);
  const root: ObjectNode = { kind: 'object', fields: [] };
  let exactOnly = false;
  for (const { path, leaf } of draft.values()) {
    let node = root;
    for (const key of path.slice(0, -1)) {
      let f = node.fields.find((x) => x.key === key && x.node.kind === 'object');
      if (!f) {
        f = { key, node: { kind: 'object', fields: [] } };
        node.fields.push(f);
      }
      node = f.node as ObjectNode;
    }
    node.fields.push({ key: path[path.length - 1]!, node: leaf });
  }
  const visit = (n: ObjectNode) => {
    const leaves = new Set(n.fields.filter((f) => f.node.kind === 'leaf').map((f) => f.key));
    for (const f of n.fields) {
      if (f.node.kind === 'object') {
        if (leaves.has(f.key)) exactOnly = true;
        visit(f.node);
      }
    }
  };
  visit(root);
  const sorted = [...draft.values()].sort((a, b) => {
    const x = a.path.join('.');
    const y = b.path.join('.');
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return { root, sorted, exactOnly };
}

function compileBranches(pattern: Record<string, unknown>): Branch[] {
  const read = (orPrimitive: boolean) => compileFields(pattern, '', [], [new Map()], { orPrimitive, insideOr: false });
  let drafts: Draft[];
  try {
    drafts = read(true);
  } catch (e) {
    // event-ruler's Machine.addRule: a pattern JsonRuleCompiler refuses is compiled again by
    // RuleCompiler, which knows no $or (a field named "$or"); the first error is the useful one
    if (!(e instanceof InvalidPatternError) || !mentionsOr(pattern)) throw e;
    try {
      drafts = read(false);
    } catch {
      throw e;
    }
  }
  return drafts.map(toBranch);
}

// ------------------------------------------------------------------------------------------------
// matching: the tree (fast path)

/** Set when an exists:false test under an array of objects contributed to a match. */
let uncertain = false;

function matchLeafValues(node: LeafNode, v: unknown[], inArray: boolean): boolean {
  const leaves = flatten(v, []).filter(isLeafValue);
  if (leaves.length === 0) return absent(node, inArray);
  if (node.existsTrue) return true;
  for (const x of leaves) for (const t of node.tests) if (t(x)) return true;
  return false;
}

function absent(node: LeafNode, inArray: boolean): boolean {
  if (!node.existsFalse) return false;
  if (inArray) uncertain = true;
  return true;
}

function matchLeaf(node: LeafNode, v: unknown, inArray: boolean): boolean {
  if (v === undefined) return absent(node, inArray);
  if (typeof v === 'object') {
    if (v === null) return node.existsTrue || node.tests.some((t) => t(null));
    return Array.isArray(v) ? matchLeafValues(node, v, inArray) : absent(node, inArray);
  }
  if (node.existsTrue) return true;
  const tests = node.tests;
  for (let i = 0; i < tests.length; i++) if (tests[i]!(v as Leaf)) return true;
  return false;
}

/** Values at a field, arrays flattened (event arrays, also nested ones, are sets of values). */
function flatten(v: unknown, out: unknown[]): unknown[] {
  if (Array.isArray(v)) for (const x of v) flatten(x, out);
  else if (v !== undefined) out.push(v);
  return out;
}

const EMPTY: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

function matchObject(node: ObjectNode, obj: Record<string, unknown>, inArray: boolean): boolean {
  for (const { key, node: sub } of node.fields) {
    const v = hasOwn(obj, key) ? obj[key] : undefined;
    if (sub.kind === 'leaf') {
      if (!matchLeaf(sub, v, inArray)) return false;
    } else if (isObj(v)) {
      if (!matchObject(sub, v, inArray)) return false;
    } else if (Array.isArray(v)) {
      // array-consistent: the whole nested pattern must match within one element
      const candidates = flatten(v, []).filter(isObj);
      if (candidates.length === 0) candidates.push(EMPTY);
      if (!candidates.some((c) => matchObject(sub, c, true))) return false;
    } else if (!matchObject(sub, EMPTY, inArray)) return false;
  }
  return true;
}

// ------------------------------------------------------------------------------------------------
// matching: event-ruler's search (exact; used for exists:false under arrays of objects)

/** The array elements a value sits in: (array, index) pairs from the root down. */
type Membership = readonly (readonly [unknown[], number])[];

function occurrences(event: Record<string, unknown>, path: string[]): { v: Leaf; m: Membership }[] {
  const out: { v: Leaf; m: Membership }[] = [];
  const walk = (v: unknown, i: number, m: Membership): void => {
    if (Array.isArray(v)) {
      for (const [idx, x] of v.entries()) walk(x, i, [...m, [v, idx]]);
    } else if (i === path.length) {
      if (isLeafValue(v)) out.push({ v, m });
    } else if (isObj(v) && hasOwn(v, path[i]!)) {
      walk(v[path[i]!], i + 1, m);
    }
  };
  walk(event, 0, []);
  return out;
}

/** event-ruler's ArrayMembership.checkArrayConsistency: no array in both at different indexes. */
function consistent(a: Membership, b: Membership): boolean {
  for (const [arr, i] of a) for (const [other, j] of b) if (arr === other && i !== j) return false;
  return true;
}

/**
 * event-ruler's ACFinder: the branch's fields in sorted order, each bound to a value consistent
 * with the values bound before it; an exists:false field holds when no value of its path is
 * consistent with the values bound BEFORE it (fields after it do not count).
 */
function matchExact(branch: Branch, event: Record<string, unknown>): boolean {
  const fields = branch.sorted;
  const occ = fields.map((f) => occurrences(event, f.path));
  const step = (k: number, m: Membership): boolean => {
    if (k === fields.length) return true;
    const { leaf } = fields[k]!;
    const values = occ[k]!;
    if (leaf.existsFalse && !values.some((o) => consistent(m, o.m)) && step(k + 1, m)) return true;
    for (const o of values) {
      if (!consistent(m, o.m)) continue;
      if (!leaf.existsTrue && !leaf.tests.some((t) => t(o.v))) continue;
      if (step(k + 1, [...m, ...o.m])) return true;
    }
    return false;
  };
  return step(0, []);
}

function matchBranch(branch: Branch, event: Record<string, unknown>): boolean {
  if (branch.exactOnly) return matchExact(branch, event);
  uncertain = false;
  if (!matchObject(branch.root, event, false)) return false;
  // the tree never under-matches; it can over-match only through exists:false under an array
  return !uncertain || matchExact(branch, event);
}

/** Validates a pattern (throws InvalidPatternError) and returns a reusable matcher. */
export function compilePattern(pattern: unknown): CompiledPattern {
  if (!isObj(pattern)) throw new InvalidPatternError('', 'an event pattern must be a JSON object');
  const branches = compileBranches(pattern);
  const only = branches.length === 1 ? branches[0]! : undefined;
  return {
    source: pattern,
    matches: only
      ? (event: unknown) => isObj(event) && matchBranch(only, event)
      : (event: unknown) => isObj(event) && branches.some((b) => matchBranch(b, event)),
  };
}

/** One-off check (compiles the pattern each call; prefer compilePattern for repeated use). */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  return compilePattern(pattern).matches(event);
}
