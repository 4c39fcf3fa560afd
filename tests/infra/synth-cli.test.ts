/**
 * `npm run synth` — the real CDK CLI running infra/app.ts — works offline and without AWS
 * credentials, bundles every function with the local esbuild (no Docker) into one small ESM
 * file that imports the AWS SDK from the runtime, and the template has every component.
 * Each bundle is then loaded by Node to prove it is a valid module exporting `handler`.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../infra/constructs/function';
import { offlineCdkEnv, TEST_PUBKEY } from './synth';

const outdir = mkdtempSync(join(tmpdir(), 'cdk-synth-'));
const home = mkdtempSync(join(tmpdir(), 'cdk-home-'));
const smokeDir = join(REPO_ROOT, '.tmp', `bundle-smoke-${process.pid}`);
let run: ReturnType<typeof spawnSync>;
let template: { Resources: Record<string, { Type: string; Properties: Record<string, any>; Metadata?: Record<string, string> }> };

const offlineEnv = () => offlineCdkEnv(home);

beforeAll(() => {
  run = spawnSync('npm', ['run', '--silent', 'synth', '--', '-o', outdir, '-c', `trustedKeys=${TEST_PUBKEY}`], {
    cwd: REPO_ROOT,
    env: offlineEnv(),
    encoding: 'utf8',
    timeout: 240_000,
  });
  if (run.status === 0) template = JSON.parse(readFileSync(join(outdir, 'AgentOrchestrator.template.json'), 'utf8'));
}, 300_000);

afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
  rmSync(smokeDir, { recursive: true, force: true });
});

describe('npm run synth', () => {
  it('succeeds offline without credentials', () => {
    expect(run.error).toBeUndefined();
    expect(run.status, `${String(run.stderr)}\n${String(run.stdout)}`).toBe(0);
    expect(existsSync(join(outdir, 'AgentOrchestrator.template.json'))).toBe(true);
  });

  it('the template has every component', () => {
    const types = Object.values(template.Resources).map((r) => r.Type);
    const count = (t: string) => types.filter((x) => x === t).length;
    expect(count('AWS::DynamoDB::Table')).toBe(3);
    expect(count('AWS::Lambda::Function')).toBe(10);
    expect(count('AWS::S3::Bucket')).toBe(3);
    expect(count('AWS::Events::EventBus')).toBe(1);
    expect(count('AWS::Events::Archive')).toBe(1);
    expect(count('AWS::Events::Rule')).toBe(5);
    expect(count('AWS::Scheduler::Schedule')).toBe(4);
    expect(count('AWS::Lambda::EventSourceMapping')).toBe(2);
    expect(count('AWS::ApiGatewayV2::Api')).toBe(1);
    expect(count('AWS::Lambda::Url')).toBe(1);
    expect(count('AWS::CloudWatch::Dashboard')).toBe(1);
    expect(count('AWS::CloudWatch::Alarm')).toBeGreaterThanOrEqual(10);
  });

  it('the validation plugins (cdk-nag) reported no violation', () => {
    // a violation fails the synth (see stack.test.ts "a new finding fails the synth"); the report
    // lists only plugins that found something
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as { pluginReports: unknown[] };
    expect(report.pluginReports).toEqual([]);
  });

  it('bundles each function with esbuild into one small ESM file, AWS SDK left to the runtime', () => {
    const fns = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
    const assets = new Set<string>();
    for (const [fid, f] of fns) {
      const assetPath = f.Metadata?.['aws:asset:path'] as string;
      expect(assetPath, fid).toMatch(/^asset\./);
      assets.add(assetPath);
      const dir = join(outdir, assetPath);
      expect(readdirSync(dir), fid).toEqual(['index.mjs']);
      const file = join(dir, 'index.mjs');
      const size = statSync(file).size;
      expect(size, `${fid} bundle bytes`).toBeLessThan(1_500_000);
      const code = readFileSync(file, 'utf8');
      // ESM, with the require shim for CommonJS dependencies, no source map
      expect(code, fid).toMatch(/createRequire/);
      expect(code, fid).not.toMatch(/sourceMappingURL/);
      expect(code, fid).toMatch(/export\s*\{[^}]*\bas handler\b[^}]*\}|export\s*\{[^}]*\bhandler\b[^}]*\}/);
      // the SDK is imported from the runtime, not bundled
      if (/@aws-sdk\//.test(code)) expect(code, fid).toMatch(/from\s*"@aws-sdk\/[a-z-]+"/);
      expect(code, fid).not.toMatch(/node_modules\/@aws-sdk\//);
      expect(f.Properties.Handler).toBe('index.handler');
    }
    expect(assets.size, 'one distinct bundle per function').toBe(fns.length);
  });

  it('every bundle loads in Node and exports a handler function', () => {
    const fns = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
    mkdirSync(smokeDir, { recursive: true });
    for (const [fid, f] of fns) {
      // inside the repository, so `@aws-sdk/*` resolves from node_modules as it does from the runtime
      const target = join(smokeDir, `${fid}.mjs`);
      copyFileSync(join(outdir, f.Metadata?.['aws:asset:path'] as string, 'index.mjs'), target);
      const r = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(`file://${target}`)}); process.stdout.write(typeof m.handler);`,
        ],
        {
          cwd: REPO_ROOT,
          env: { ...offlineEnv(), AWS_REGION: 'eu-west-1' },
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      expect(r.stderr, fid).toBe('');
      expect(r.stdout, fid).toBe('function');
    }
  });
});
