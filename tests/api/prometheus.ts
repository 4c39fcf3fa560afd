/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for the tests: a character
 * tokenizer (metric names, label sets with escapes, Go-style float values, timestamps, HELP and
 * TYPE metadata) plus the format's grouping rules (TYPE before the family's samples, families
 * contiguous and unique, no duplicate series, histogram/summary suffixes) and histogram
 * consistency (cumulative buckets, +Inf present and equal to _count).
 *
 * Why not only a library: parse-prometheus-text-format (used as a cross-check in metrics.test.ts)
 * merges the series of a labelled histogram into one and drops their labels, so it cannot check
 * per-agent histograms.
 */

export type PromType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface PromFamily {
  name: string;
  type: PromType;
  help: string | null;
  samples: PromSample[];
}

export interface HistogramSeries {
  labels: Record<string, string>;
  /** upper bound → cumulative count, in ascending bound order (+Inf last) */
  buckets: [number, number][];
  sum: number;
  count: number;
}

export class PromParseError extends Error {
  constructor(line: number, col: number, msg: string) {
    super(`line ${line}, column ${col}: ${msg}`);
  }
}

const NAME_START = /[a-zA-Z_:]/;
const NAME_CHAR = /[a-zA-Z0-9_:]/;
const LABEL_START = /[a-zA-Z_]/;
const LABEL_CHAR = /[a-zA-Z0-9_]/;
const TYPES: PromType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

class Cursor {
  i = 0;
  constructor(
    readonly s: string,
    readonly line: number,
  ) {}
  get done(): boolean {
    return this.i >= this.s.length;
  }
  peek(): string {
    return this.s[this.i] ?? '';
  }
  next(): string {
    return this.s[this.i++] ?? '';
  }
  fail(msg: string): never {
    throw new PromParseError(this.line, this.i + 1, msg);
  }
  expect(c: string): void {
    if (this.next() !== c) this.fail(`expected ${JSON.stringify(c)}`);
  }
  blanks(min = 0): void {
    let n = 0;
    while (this.peek() === ' ' || this.peek() === '\t') {
      this.i++;
      n++;
    }
    if (n < min) this.fail('expected a blank');
  }
  ident(start: RegExp, rest: RegExp, what: string): string {
    const c = this.peek();
    if (!start.test(c)) this.fail(`expected a ${what}`);
    let out = this.next();
    while (!this.done && rest.test(this.peek())) out += this.next();
    return out;
  }
  token(): string {
    let out = '';
    while (!this.done && this.peek() !== ' ' && this.peek() !== '\t') out += this.next();
    return out;
  }
  rest(): string {
    const out = this.s.slice(this.i);
    this.i = this.s.length;
    return out;
  }
}

/** Go's strconv.ParseFloat as Prometheus accepts it. */
function parseValue(tok: string, c: Cursor): number {
  if (/^[+-]?(Inf|inf|INF)$/.test(tok)) return tok.startsWith('-') ? -Infinity : Infinity;
  if (/^(NaN|nan)$/.test(tok)) return NaN;
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(tok)) c.fail(`not a number: ${JSON.stringify(tok)}`);
  return Number(tok);
}

function labelValue(c: Cursor): string {
  c.expect('"');
  let out = '';
  for (;;) {
    if (c.done) c.fail('unterminated label value');
    const ch = c.next();
    if (ch === '"') return out;
    if (ch === '\n') c.fail('raw line feed in a label value');
    if (ch === '\\') {
      const e = c.next();
      if (e === '\\') out += '\\';
      else if (e === '"') out += '"';
      else if (e === 'n') out += '\n';
      else c.fail(`invalid escape \\${e}`);
    } else out += ch;
  }
}

function parseSample(c: Cursor): PromSample {
  const name = c.ident(NAME_START, NAME_CHAR, 'metric name');
  const labels: Record<string, string> = {};
  const save = c.i;
  c.blanks();
  if (c.peek() !== '{') c.i = save;
  else {
    c.next();
    c.blanks();
    while (c.peek() !== '}') {
      const ln = c.ident(LABEL_START, LABEL_CHAR, 'label name');
      if (Object.hasOwn(labels, ln)) c.fail(`duplicate label ${ln}`);
      c.blanks();
      c.expect('=');
      c.blanks();
      labels[ln] = labelValue(c);
      c.blanks();
      if (c.peek() === ',') {
        c.next();
        c.blanks();
      } else if (c.peek() !== '}') c.fail('expected "," or "}"');
    }
    c.expect('}');
  }
  c.blanks(1);
  const value = parseValue(c.token(), c);
  c.blanks();
  const sample: PromSample = { name, labels, value };
  if (!c.done) {
    const ts = c.token();
    if (!/^-?\d+$/.test(ts)) c.fail(`not a timestamp: ${JSON.stringify(ts)}`);
    sample.timestamp = Number(ts);
    c.blanks();
    if (!c.done) c.fail('trailing characters');
  }
  return sample;
}

function unescapeHelp(s: string, c: Cursor): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const e = s[++i];
    if (e === '\\') out += '\\';
    else if (e === 'n') out += '\n';
    else c.fail(`invalid escape in HELP: \\${e ?? ''}`);
  }
  return out;
}

/** The family a sample name belongs to, given the declared types. */
function familyOf(name: string, types: Map<string, PromType>): string {
  for (const [suffix, kinds] of [
    ['_bucket', ['histogram']],
    ['_sum', ['histogram', 'summary']],
    ['_count', ['histogram', 'summary']],
  ] as const) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      const t = types.get(base);
      if (t && (kinds as readonly string[]).includes(t)) return base;
    }
  }
  return name;
}

const seriesKey = (s: PromSample) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;

export function parsePrometheus(text: string): Map<string, PromFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new PromParseError(0, 0, 'exposition must end with a line feed');
  const families = new Map<string, PromFamily>();
  const types = new Map<string, PromType>();
  const closed = new Set<string>();
  const seen = new Set<string>();
  let current: string | null = null;
  const lines = text.split('\n');
  lines.pop();
  const family = (name: string): PromFamily => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: types.get(name) ?? 'untyped', help: null, samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const enter = (name: string, c: Cursor) => {
    if (current === name) return;
    if (closed.has(name)) c.fail(`family ${name} is not contiguous`);
    if (current) closed.add(current);
    current = name;
  };
  lines.forEach((raw, idx) => {
    const c = new Cursor(raw, idx + 1);
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      c.next();
      c.blanks();
      const kw = c.token();
      if (kw !== 'HELP' && kw !== 'TYPE') return; // a comment
      c.blanks(1);
      const name = c.ident(NAME_START, NAME_CHAR, 'metric name');
      enter(name, c);
      if (kw === 'TYPE') {
        c.blanks(1);
        const t = c.token() as PromType;
        c.blanks();
        if (!c.done) c.fail('trailing characters after TYPE');
        if (!TYPES.includes(t)) c.fail(`unknown type ${t}`);
        if (types.has(name)) c.fail(`second TYPE for ${name}`);
        if (families.get(name)?.samples.length) c.fail(`TYPE for ${name} after its samples`);
        types.set(name, t);
        family(name).type = t;
      } else {
        const f = family(name);
        if (f.help !== null) c.fail(`second HELP for ${name}`);
        const rest = c.rest();
        f.help = unescapeHelp(rest.startsWith(' ') ? rest.slice(1) : rest, c);
      }
      return;
    }
    const s = parseSample(c);
    const fname = familyOf(s.name, types);
    enter(fname, c);
    const f = family(fname);
    const key = seriesKey(s);
    if (seen.has(key)) c.fail(`duplicate series ${key}`);
    seen.add(key);
    if (f.type === 'histogram' && s.name === `${fname}_bucket` && s.labels.le === undefined) c.fail('histogram bucket without le');
    if (f.type === 'histogram' && s.name === fname) c.fail('histogram sample without a suffix');
    if (f.type === 'counter' && !(s.value >= 0)) c.fail('negative counter');
    f.samples.push(s);
  });
  return families;
}

/** The series of a histogram family, validated: cumulative buckets, +Inf = count, sum present. */
export function histogramSeries(f: PromFamily): HistogramSeries[] {
  if (f.type !== 'histogram') throw new Error(`${f.name} is a ${f.type}, not a histogram`);
  const byKey = new Map<string, HistogramSeries & { hasSum: boolean; hasCount: boolean }>();
  for (const s of f.samples) {
    const { le, ...labels } = s.labels;
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
    let h = byKey.get(key);
    if (!h) {
      h = { labels, buckets: [], sum: NaN, count: NaN, hasSum: false, hasCount: false };
      byKey.set(key, h);
    }
    if (s.name === `${f.name}_bucket`) h.buckets.push([parseValue(le as string, new Cursor(le as string, 0)), s.value]);
    else if (s.name === `${f.name}_sum`) {
      h.sum = s.value;
      h.hasSum = true;
    } else if (s.name === `${f.name}_count`) {
      h.count = s.value;
      h.hasCount = true;
    }
  }
  return [...byKey.values()].map(({ hasSum, hasCount, ...h }) => {
    const where = `${f.name}${JSON.stringify(h.labels)}`;
    if (!hasSum || !hasCount) throw new Error(`${where}: _sum and _count are required`);
    h.buckets.sort((a, b) => a[0] - b[0]);
    const last = h.buckets.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`${where}: no +Inf bucket`);
    if (last[1] !== h.count) throw new Error(`${where}: +Inf bucket ${last[1]} != count ${h.count}`);
    for (let i = 1; i < h.buckets.length; i++)
      if ((h.buckets[i] as [number, number])[1] < (h.buckets[i - 1] as [number, number])[1])
        throw new Error(`${where}: buckets are not cumulative`);
    return h;
  });
}
