/** EventBridge pattern matcher: table tests per documented operator, invalid patterns, and the shared RULES. */
import { describe, expect, it } from 'vitest';
import { compilePattern, matchesPattern } from '../../shared/core/bus/pattern';
import { InvalidPatternError } from '../../shared/core/bus/errors';
import { BUS_SOURCE, RULES, resolvePattern } from '../../shared/definitions/routing';

// An event in the shape EventBridge delivers (event-ruler README's sample, extended).
const EVENT = {
  version: '0',
  id: 'ddddd4-aaaa-7777-4444-345dd43cc333',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '012345679012',
  time: '2017-10-02T16:24:49Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000', 'arn:aws:s3:::bucket'],
  detail: {
    'c-count': 5,
    'd-count': 3,
    'x-limit': 301.8,
    'source-ip': '10.0.0.33',
    'source-ip6': '2001:db8::1',
    'instance-id': 'i-000000aaaaaa00000',
    state: 'running',
    empty: '',
    nothing: null,
    flag: true,
    file: 'dir/sub/photo.PNG',
    tags: ['blue', 'green'],
    nested: { deep: { value: 'x' } },
    employees: [
      { firstName: 'John', lastName: 'Doe' },
      { firstName: 'Anna', lastName: 'Smith' },
      { firstName: 'Peter', lastName: 'Jones' },
    ],
    matrix: [[1, 2], [3]],
    emptyList: [],
  },
};

type Row = [name: string, pattern: Record<string, unknown>, expected: boolean];
const d = (detail: Record<string, unknown>) => ({ detail });

const TABLE: Row[] = [
  // exact values, AND across fields, OR within a list
  ['exact string', { source: ['aws.ec2'] }, true],
  ['exact string, other value', { source: ['aws.s3'] }, false],
  ['OR within list', { source: ['aws.s3', 'aws.ec2'] }, true],
  ['AND across fields, all match', { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'] }, true],
  ['AND across fields, one fails', { source: ['aws.ec2'], 'detail-type': ['other'] }, false],
  ['exact number', d({ 'c-count': [5] }), true],
  ['exact number is type-strict', d({ 'c-count': ['5'] }), false],
  ['exact float', d({ 'x-limit': [301.8] }), true],
  ['exact boolean', d({ flag: [true] }), true],
  ['exact boolean false', d({ flag: [false] }), false],
  ['null matches null', d({ nothing: [null] }), true],
  ['null does not match a missing field', d({ absent: [null] }), false],
  ['empty string', d({ empty: [''] }), true],
  ['empty string vs non-empty', d({ state: [''] }), false],
  ['missing field matches nothing', d({ absent: ['x'] }), false],
  ['case-sensitive exact', d({ state: ['Running'] }), false],
  // nested objects
  ['nested object', d({ nested: { deep: { value: ['x'] } } }), true],
  ['nested object, wrong value', d({ nested: { deep: { value: ['y'] } } }), false],
  ['nested pattern against a leaf', d({ state: { inner: ['x'] } }), false],
  // prefix / suffix / equals-ignore-case
  ['prefix', { time: [{ prefix: '2017-10-02' }] }, true],
  ['prefix miss', { time: [{ prefix: '2018' }] }, false],
  ['prefix on a number never matches', d({ 'c-count': [{ prefix: '5' }] }), false],
  ['prefix ignore case', d({ state: [{ prefix: { 'equals-ignore-case': 'RUN' } }] }), true],
  ['suffix', d({ file: [{ suffix: '.PNG' }] }), true],
  ['suffix is case-sensitive', d({ file: [{ suffix: '.png' }] }), false],
  ['suffix ignore case', d({ file: [{ suffix: { 'equals-ignore-case': '.png' } }] }), true],
  ['equals-ignore-case', { source: [{ 'equals-ignore-case': 'AWS.EC2' }] }, true],
  ['equals-ignore-case miss', { source: [{ 'equals-ignore-case': 'AWS.EC' }] }, false],
  // wildcard
  ['wildcard middle', d({ file: [{ wildcard: 'dir/*/photo.PNG' }] }), true],
  ['wildcard several', d({ file: [{ wildcard: 'd*/s*/*.PNG' }] }), true],
  ['wildcard is anchored', d({ file: [{ wildcard: 'sub/*' }] }), false],
  ['wildcard star alone', d({ file: [{ wildcard: '*' }] }), true],
  ['wildcard regex characters are literal', d({ file: [{ wildcard: 'dir/sub/photo?PNG' }] }), false],
  ['wildcard escaped star is literal', d({ star: [{ wildcard: 'a\\*b' }] }), false],
  // anything-but
  ['anything-but string', d({ state: [{ 'anything-but': 'initializing' }] }), true],
  ['anything-but string, excluded', d({ state: [{ 'anything-but': 'running' }] }), false],
  ['anything-but list of strings', d({ state: [{ 'anything-but': ['stopped', 'running'] }] }), false],
  ['anything-but list of numbers', d({ 'c-count': [{ 'anything-but': [1, 2, 3] }] }), true],
  ['anything-but number, excluded', d({ 'c-count': [{ 'anything-but': 5 }] }), false],
  ['anything-but on a missing field', d({ absent: [{ 'anything-but': 'x' }] }), false],
  ['anything-but prefix', d({ state: [{ 'anything-but': { prefix: 'init' } }] }), true],
  ['anything-but prefix, excluded', d({ state: [{ 'anything-but': { prefix: 'run' } }] }), false],
  ['anything-but suffix', d({ file: [{ 'anything-but': { suffix: '.jpg' } }] }), true],
  ['anything-but suffix, excluded', d({ file: [{ 'anything-but': { suffix: '.PNG' } }] }), false],
  ['anything-but wildcard, excluded', d({ file: [{ 'anything-but': { wildcard: '*/sub/*' } }] }), false],
  ['anything-but wildcard list', d({ file: [{ 'anything-but': { wildcard: ['*/lib/*', '*/bin/*'] } }] }), true],
  ['anything-but equals-ignore-case, excluded', d({ state: [{ 'anything-but': { 'equals-ignore-case': 'RUNNING' } }] }), false],
  ['anything-but equals-ignore-case list', d({ state: [{ 'anything-but': { 'equals-ignore-case': ['STOPPED', 'PENDING'] } }] }), true],
  ['anything-but excludes only its type', d({ 'c-count': [{ 'anything-but': 'x' }] }), true],
  // numeric
  ['numeric range', d({ 'c-count': [{ numeric: ['>', 0, '<=', 5] }] }), true],
  ['numeric range, upper open', d({ 'c-count': [{ numeric: ['>', 0, '<', 5] }] }), false],
  ['numeric less than', d({ 'd-count': [{ numeric: ['<', 10] }] }), true],
  ['numeric equals (exponent form)', d({ 'x-limit': [{ numeric: ['=', 3.018e2] }] }), true],
  ['numeric >=', d({ 'c-count': [{ numeric: ['>=', 5] }] }), true],
  ['numeric >', d({ 'c-count': [{ numeric: ['>', 5] }] }), false],
  ['numeric on a string never matches', d({ state: [{ numeric: ['>', 0] }] }), false],
  // exists
  ['exists true', d({ 'c-count': [{ exists: true }] }), true],
  ['exists true on a missing field', d({ absent: [{ exists: true }] }), false],
  ['exists false on a missing field', d({ absent: [{ exists: false }] }), true],
  ['exists false on a present field', d({ state: [{ exists: false }] }), false],
  ['exists true on null (present)', d({ nothing: [{ exists: true }] }), true],
  ['exists works on leaves only: object is not a leaf', d({ nested: [{ exists: true }] }), false],
  ['exists false matches an intermediate node', d({ nested: [{ exists: false }] }), true],
  ['exists on an empty array', d({ emptyList: [{ exists: false }] }), true],
  ['exists false OR a value', d({ state: [{ exists: false }, 'running'] }), true],
  // cidr
  ['cidr IPv4', d({ 'source-ip': [{ cidr: '10.0.0.0/24' }] }), true],
  ['cidr IPv4 outside', d({ 'source-ip': [{ cidr: '10.0.1.0/24' }] }), false],
  ['cidr IPv4 /8', d({ 'source-ip': [{ cidr: '10.0.0.0/8' }] }), true],
  ['cidr IPv6', d({ 'source-ip6': [{ cidr: '2001:db8::/32' }] }), true],
  ['cidr IPv6 outside', d({ 'source-ip6': [{ cidr: '2001:db9::/32' }] }), false],
  ['cidr family mismatch', d({ 'source-ip': [{ cidr: '2001:db8::/32' }] }), false],
  ['cidr on a non-IP string', d({ state: [{ cidr: '10.0.0.0/8' }] }), false],
  // $or
  ['$or first alternative', { source: ['aws.ec2'], $or: [{ 'detail-type': ['nope'] }, { detail: { state: ['running'] } }] }, true],
  ['$or no alternative', { $or: [{ source: ['x'] }, { region: ['eu-west-1'] }] }, false],
  ['$or ANDed with siblings', { source: ['aws.s3'], $or: [{ region: ['us-east-1'] }, { account: ['1'] }] }, false],
  ['$or nested in detail', d({ $or: [{ 'c-count': [{ numeric: ['>', 100] }] }, { 'd-count': [3] }] }), true],
  ['$or nested with inner $or', { $or: [{ source: ['x'] }, { region: ['us-east-1'], $or: [{ account: ['1'] }, { account: ['012345679012'] }] }] }, true],
  // arrays in events
  ['array: intersection non-empty', { resources: ['arn:aws:s3:::bucket'] }, true],
  ['array: intersection empty', { resources: ['arn:aws:s3:::other'] }, false],
  ['array: prefix on any element', d({ tags: [{ prefix: 'gr' }] }), true],
  ['array: anything-but per element', d({ tags: [{ 'anything-but': 'blue' }] }), true],
  ['array: anything-but all elements excluded', d({ tags: [{ 'anything-but': ['blue', 'green'] }] }), false],
  ['array of arrays flattened', d({ matrix: [3] }), true],
  ['array of objects: field of one element', d({ employees: { firstName: ['Anna'] } }), true],
  ['array of objects: same element', d({ employees: { firstName: ['Anna'], lastName: ['Smith'] } }), true],
  ['array of objects: fields from different elements do not combine', d({ employees: { firstName: ['Anna'], lastName: ['Jones'] } }), false],
];

describe('EventBridge pattern matcher', () => {
  it.each(TABLE)('%s', (_name, pattern, expected) => {
    expect(compilePattern(pattern).matches(EVENT)).toBe(expected);
  });

  it('an escaped star matches a literal star and an escaped backslash a backslash', () => {
    expect(matchesPattern({ k: [{ wildcard: 'a\\*b' }] }, { k: 'a*b' })).toBe(true);
    expect(matchesPattern({ k: [{ wildcard: 'a\\*b' }] }, { k: 'axxb' })).toBe(false);
    expect(matchesPattern({ k: [{ wildcard: 'a\\\\b' }] }, { k: 'a\\b' })).toBe(true);
  });

  it('a non-object event never matches', () => {
    const p = compilePattern({ source: ['x'] });
    for (const e of [null, 'x', 5, ['x'], undefined]) expect(p.matches(e)).toBe(false);
  });

  const INVALID: [string, unknown, string][] = [
    ['not an object', ['x'], 'must be a JSON object'],
    ['empty pattern', {}, 'must not be empty'],
    ['empty list', { source: [] }, 'source: a list of matchers must not be empty'],
    ['scalar field', { source: 'aws.ec2' }, 'source: a field must map'],
    ['unknown operator', { source: [{ contains: 'x' }] }, 'unknown operator "contains"'],
    ['two operators in one object', { source: [{ prefix: 'a', suffix: 'b' }] }, 'exactly one key'],
    ['prefix not a string', { source: [{ prefix: 5 }] }, 'prefix must be a string'],
    ['consecutive wildcards', { source: [{ wildcard: 'a**b' }] }, 'consecutive'],
    ['bad wildcard escape', { source: [{ wildcard: 'a\\b' }] }, 'backslash'],
    ['anything-but mixed list', { n: [{ 'anything-but': ['a', 1] }] }, 'all strings or all numbers'],
    ['anything-but empty list', { n: [{ 'anything-but': [] }] }, 'non-empty'],
    ['anything-but unsupported', { n: [{ 'anything-but': { numeric: ['>', 1] } }] }, 'does not support "numeric"'],
    ['anything-but boolean', { n: [{ 'anything-but': true }] }, 'must be a string, a number'],
    ['numeric bad operator', { n: [{ numeric: ['!=', 1] }] }, 'unknown numeric operator'],
    ['numeric odd length', { n: [{ numeric: ['>', 1, '<'] }] }, 'numeric must be'],
    ['numeric range reversed', { n: [{ numeric: ['<', 1, '>', 0] }] }, 'lower bound'],
    ['numeric empty range', { n: [{ numeric: ['>', 5, '<', 1] }] }, 'above the upper bound'],
    ['numeric out of range', { n: [{ numeric: ['>', 6e9] }] }, 'between'],
    ['numeric non-number', { n: [{ numeric: ['>', '1'] }] }, 'operand must be a number'],
    ['exists non-boolean', { n: [{ exists: 'yes' }] }, 'exists must be true or false'],
    ['cidr without bits', { ip: [{ cidr: '10.0.0.1' }] }, 'address/bits'],
    ['cidr bad address', { ip: [{ cidr: '10.0.0/8' }] }, 'address/bits'],
    ['cidr bits too long', { ip: [{ cidr: '10.0.0.0/33' }] }, 'too long'],
    ['$or with one alternative', { $or: [{ a: ['x'] }] }, 'at least two'],
    ['$or with a non-object', { $or: [{ a: ['x'] }, ['y']] }, 'pattern objects'],
    ['nested empty object', { detail: {} }, 'detail: a pattern object must not be empty'],
  ];
  it.each(INVALID)('refuses an invalid pattern: %s', (_name, pattern, message) => {
    let err: unknown;
    try {
      compilePattern(pattern);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidPatternError);
    expect((err as InvalidPatternError).code).toBe('invalid_pattern');
    expect((err as Error).message).toContain(message);
  });

  it('reports the path of the fault', () => {
    expect(() => compilePattern({ detail: { list: [1, { numeric: ['>', 'x'] }] } })).toThrow(/at detail\.list\[1\]\.numeric\[1\]/);
  });
});

describe('shared RULES (the definitions the CDK stack installs)', () => {
  const rule = (id: string) => compilePattern(resolvePattern(RULES.find((r) => r.id === id)!.pattern, { HOT_BUCKET: 'hot-bucket' }));
  const envelopeEvent = (topic: string) => ({
    version: '0',
    id: 'e1',
    'detail-type': topic,
    source: BUS_SOURCE,
    account: '000000000000',
    time: '2026-01-01T00:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail: { id: 'x', topic, sender: 'a', ts: '2026-01-01T00:00:00.000Z', payload: {} },
  });
  const s3Event = (bucket: string, key: string, type = 'Object Created') => ({
    version: '0',
    id: 's1',
    'detail-type': type,
    source: 'aws.s3',
    account: '000000000000',
    time: '2026-01-01T00:00:00Z',
    region: 'us-east-1',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: { version: '0', bucket: { name: bucket }, object: { key, size: 10 }, reason: 'PutObject' },
  });

  it('every rule pattern compiles', () => {
    for (const r of RULES) expect(() => compilePattern(resolvePattern(r.pattern, { HOT_BUCKET: 'b' }))).not.toThrow();
  });

  it('Ledger takes every envelope; Delivery all but agent.cycle; Health only agent.failed', () => {
    for (const topic of ['agent.cycle', 'agent.failed', 'orders.created']) expect(rule('Ledger').matches(envelopeEvent(topic))).toBe(true);
    expect(rule('Delivery').matches(envelopeEvent('agent.cycle'))).toBe(false);
    expect(rule('Delivery').matches(envelopeEvent('orders.created'))).toBe(true);
    expect(rule('Delivery').matches(envelopeEvent('agent.failed'))).toBe(true);
    expect(rule('Health').matches(envelopeEvent('agent.failed'))).toBe(true);
    expect(rule('Health').matches(envelopeEvent('agent.cycle'))).toBe(false);
    expect(rule('Ledger').matches(s3Event('hot-bucket', 'agents/a/1.0.0.mjs'))).toBe(false);
  });

  it('HotDirectory takes S3 created/deleted events of the hot bucket under agents/ only', () => {
    expect(rule('HotDirectory').matches(s3Event('hot-bucket', 'agents/a/1.0.0.mjs'))).toBe(true);
    expect(rule('HotDirectory').matches(s3Event('hot-bucket', 'agents/a/1.0.0.mjs', 'Object Deleted'))).toBe(true);
    expect(rule('HotDirectory').matches(s3Event('hot-bucket', 'other/a.mjs'))).toBe(false);
    expect(rule('HotDirectory').matches(s3Event('other-bucket', 'agents/a/1.0.0.mjs'))).toBe(false);
    expect(rule('HotDirectory').matches(s3Event('hot-bucket', 'agents/a/1.0.0.mjs', 'Object Restore Completed'))).toBe(false);
  });
});
