import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('architecture boundaries', () => {
  it('the domain core (shared/core) imports no @aws-sdk and no aws-lambda', () => {
    const offenders = files('shared/core').filter((f) => /from\s+['"](@aws-sdk\/|aws-lambda)/.test(readFileSync(f, 'utf8')));
    expect(files('shared/core').length).toBeGreaterThan(5);
    expect(offenders).toEqual([]);
  });
});
