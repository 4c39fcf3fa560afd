/**
 * Canonical JSON (the JSON Canonicalization Scheme of RFC 8785 for the values JSON can carry):
 * object keys sorted by UTF-16 code units, no whitespace, strings and numbers serialized as
 * ECMAScript's JSON.stringify does (which is what JCS specifies). `undefined` object members
 * are dropped (as JSON.stringify drops them, so an envelope hashes the same before and after a
 * trip over the wire). Non-finite numbers, `undefined` array elements, functions, symbols,
 * bigints and cyclic structures are refused: they have no JSON form.
 */
import { LedgerEncodingError } from './errors';

export function canonicalJson(value: unknown): string {
  const seen = new Set<object>();
  const enc = (v: unknown, path: string): string => {
    if (v === null) return 'null';
    switch (typeof v) {
      case 'string':
        return JSON.stringify(v);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'number':
        if (!Number.isFinite(v)) throw new LedgerEncodingError(`${path}: ${v} has no JSON form`);
        return JSON.stringify(v);
      case 'object': {
        if (seen.has(v)) throw new LedgerEncodingError(`${path}: cyclic structure`);
        seen.add(v);
        let out: string;
        if (Array.isArray(v)) {
          out =
            '[' +
            v
              .map((x, i) => {
                if (x === undefined) throw new LedgerEncodingError(`${path}[${i}]: undefined has no JSON form`);
                return enc(x, `${path}[${i}]`);
              })
              .join(',') +
            ']';
        } else {
          const o = v as Record<string, unknown>;
          const keys = Object.keys(o)
            .filter((k) => o[k] !== undefined)
            .sort();
          out = '{' + keys.map((k) => JSON.stringify(k) + ':' + enc(o[k], `${path}.${k}`)).join(',') + '}';
        }
        seen.delete(v);
        return out;
      }
      default:
        throw new LedgerEncodingError(`${path}: a ${typeof v} has no JSON form`);
    }
  };
  return enc(value, '$');
}
