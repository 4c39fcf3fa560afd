/**
 * Reference evaluator of EventBridge event patterns for the differential test
 * (tests/bus/pattern-differential.test.ts). Written from the documented semantics listed in
 * docs/event-patterns.md, deliberately simple and slow, and sharing no code with the matcher
 * under test (shared/core/bus/pattern.ts). It assumes a valid pattern and answers only the
 * questions the generator asks; corners the documentation leaves open are not generated (they are
 * pinned by named tests in tests/bus/pattern.test.ts instead).
 *
 * The model:
 * - The event is flattened into its leaf values, each with its path (keys from the root) and the
 *   array elements it sits in ("JSON array matching" in event-ruler's README: a match may not
 *   take two fields from different elements of the same array).
 * - The pattern is expanded into alternatives (`$or`), each a map path → list of matchers; a path
 *   written again replaces the earlier one ("if you include a key more than once the last
 *   reference will be the one used").
 * - An alternative matches if every path can be given one of its values satisfying one of its
 *   matchers, all chosen values consistent; `exists: false` is satisfied when the path has no
 *   value in the event at all.
 */

type Leaf = string | number | boolean | null;

interface FlatValue {
  path: string[];
  value: Leaf;
  /** array id → index of the element the value sits in */
  elements: Map<number, number>;
}

function flattenEvent(event: Record<string, unknown>): FlatValue[] {
  const out: FlatValue[] = [];
  let nextArrayId = 0;
  const visit = (v: unknown, path: string[], elements: Map<number, number>) => {
    if (Array.isArray(v)) {
      const id = nextArrayId++;
      for (const [i, x] of v.entries()) visit(x, path, new Map([...elements, [id, i]]));
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) visit(x, [...path, k], elements);
    } else {
      out.push({ path, value: v as Leaf, elements });
    }
  };
  visit(event, [], new Map());
  return out;
}

type Alternative = Map<string, { path: string[]; matchers: unknown[] }>;

function expand(p: Record<string, unknown>, prefix: string[], alternatives: Alternative[]): Alternative[] {
  let result = alternatives;
  for (const [key, v] of Object.entries(p)) {
    if (key === '$or') {
      const options = v as Record<string, unknown>[];
      result = options.flatMap((option) =>
        expand(
          option,
          prefix,
          result.map((a) => new Map(a)),
        ),
      );
    } else if (Array.isArray(v)) {
      const path = [...prefix, key];
      for (const a of result) a.set(path.join('\u0000'), { path, matchers: v });
    } else {
      result = expand(v as Record<string, unknown>, [...prefix, key], result);
    }
  }
  return result;
}

const samePath = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function consistent(a: Map<number, number>, b: Map<number, number>): boolean {
  for (const [id, i] of a) if (b.has(id) && b.get(id) !== i) return false;
  return true;
}

export function referenceMatches(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  const values = flattenEvent(event);
  for (const alternative of expand(pattern, [], [new Map()])) {
    // for each path: the ways it can be satisfied (a value, or "absent")
    const choices: (FlatValue | 'absent')[][] = [];
    for (const { path, matchers } of alternative.values()) {
      const atPath = values.filter((v) => samePath(v.path, path));
      const ways: (FlatValue | 'absent')[] = [];
      if (atPath.length === 0 && matchers.some((m) => isOp(m, 'exists') && m.exists === false)) ways.push('absent');
      for (const v of atPath) if (matchers.some((m) => valueMatches(m, v.value))) ways.push(v);
      choices.push(ways);
    }
    const search = (i: number, elements: Map<number, number>): boolean => {
      if (i === choices.length) return true;
      for (const way of choices[i]!) {
        if (way === 'absent') {
          if (search(i + 1, elements)) return true;
        } else if (consistent(elements, way.elements) && search(i + 1, new Map([...elements, ...way.elements]))) {
          return true;
        }
      }
      return false;
    };
    if (search(0, new Map())) return true;
  }
  return false;
}

function isOp(m: unknown, op: string): m is Record<string, unknown> {
  return typeof m === 'object' && m !== null && !Array.isArray(m) && op in m;
}

/** One matcher against one (present) leaf value. */
function valueMatches(m: unknown, value: Leaf): boolean {
  if (m === null || typeof m !== 'object') return m === value; // exact: same JSON type and value
  const [op, arg] = Object.entries(m as Record<string, unknown>)[0]!;
  const s = typeof value === 'string' ? value : undefined;
  switch (op) {
    case 'exists':
      return arg === true;
    case 'prefix':
      if (s === undefined) return false;
      return typeof arg === 'string' ? s.startsWith(arg) : ignoreCaseAt(ignoreCaseArg(arg), s, 'prefix');
    case 'suffix':
      if (s === undefined) return false;
      return typeof arg === 'string' ? s.endsWith(arg) : ignoreCaseAt(ignoreCaseArg(arg), s, 'suffix');
    case 'equals-ignore-case':
      return s !== undefined && ignoreCaseAt(arg as string, s, 'equals');
    case 'wildcard':
      return s !== undefined && wildcard(arg as string, s);
    case 'numeric':
      return typeof value === 'number' && numeric(arg as (string | number)[], value);
    case 'cidr':
      return s !== undefined && inCidr(arg as string, s);
    case 'anything-but':
      return !excluded(arg, value);
    default:
      throw new Error(`reference: unknown operator ${op}`);
  }
}

const ignoreCaseArg = (arg: unknown) => (arg as Record<string, string>)['equals-ignore-case']!;

/** What anything-but excludes: only values of the type it names. */
function excluded(arg: unknown, value: Leaf): boolean {
  if (typeof arg === 'string' || typeof arg === 'number') return value === arg;
  if (Array.isArray(arg)) return arg.includes(value);
  const [op, inner] = Object.entries(arg as Record<string, unknown>)[0]!;
  if (typeof value !== 'string') return false;
  const list = (Array.isArray(inner) ? inner : [inner]) as string[];
  switch (op) {
    case 'prefix':
      return list.some((x) => value.startsWith(x));
    case 'suffix':
      return list.some((x) => value.endsWith(x));
    case 'equals-ignore-case':
      return list.some((x) => ignoreCaseAt(x, value, 'equals'));
    case 'wildcard':
      return list.some((x) => wildcard(x, value));
    default:
      throw new Error(`reference: unknown anything-but ${op}`);
  }
}

/**
 * Case-insensitive comparison as event-ruler defines it: each character of the pattern may
 * appear in the value as its lower-case or its upper-case form (the value itself is not folded).
 */
function ignoreCaseAt(pattern: string, value: string, mode: 'equals' | 'prefix' | 'suffix'): boolean {
  const chars = [...pattern];
  // does the pattern, read from value position vi, match (and end at the value's end if mustEnd)?
  const from = (ci: number, vi: number, mustEnd: boolean): boolean => {
    if (ci === chars.length) return !mustEnd || vi === value.length;
    const c = chars[ci]!;
    for (const form of new Set([c.toLowerCase(), c.toUpperCase()])) {
      if (value.startsWith(form, vi) && from(ci + 1, vi + form.length, mustEnd)) return true;
    }
    return false;
  };
  if (mode === 'equals') return from(0, 0, true);
  if (mode === 'prefix') return from(0, 0, false);
  for (let start = 0; start <= value.length; start++) if (from(0, start, true)) return true;
  return false;
}

/** `*` is any run of characters, `\*` a star, `\\` a backslash. */
function wildcard(pattern: string, value: string): boolean {
  const tokens: (string | 'STAR')[] = [];
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '\\') tokens.push(pattern[++i]!);
    else tokens.push(pattern[i] === '*' ? 'STAR' : pattern[i]!);
  }
  const from = (t: number, v: number): boolean => {
    if (t === tokens.length) return v === value.length;
    const tok = tokens[t]!;
    if (tok === 'STAR') {
      for (let k = v; k <= value.length; k++) if (from(t + 1, k)) return true;
      return false;
    }
    return value[v] === tok && from(t + 1, v + 1);
  };
  return from(0, 0);
}

function numeric(args: (string | number)[], n: number): boolean {
  for (let i = 0; i < args.length; i += 2) {
    const op = args[i] as string;
    const x = args[i + 1] as number;
    const ok = op === '=' ? n === x : op === '<' ? n < x : op === '<=' ? n <= x : op === '>' ? n > x : n >= x;
    if (!ok) return false;
  }
  return true;
}

/** An IPv4 or IPv6 address as [bits, width], or undefined. */
function ipToBigInt(s: string): [bigint, number] | undefined {
  const v4 = s.split('.');
  if (v4.length === 4 && v4.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    return [v4.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n), 32];
  }
  if (!s.includes(':') || !/^[0-9a-fA-F:]+$/.test(s)) return undefined;
  const [head, tail, extra] = s.split('::');
  if (extra !== undefined) return undefined;
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8 || !groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return [groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n), 128];
}

function inCidr(cidr: string, value: string): boolean {
  const [addr, bitsText] = cidr.split('/');
  const net = ipToBigInt(addr!);
  const ip = ipToBigInt(value);
  if (!net || !ip || net[1] !== ip[1]) return false;
  const shift = BigInt(net[1] - Number(bitsText));
  return net[0] >> shift === ip[0] >> shift;
}
