/** Shared helpers of the runtime tests (scheduler, runner, health monitor, control). */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DispatchItem } from '../../shared/core/dispatch';
import type { Dispatcher } from '../../shared/core/ports';
import type { NewRegistration } from '../../shared/core/registry';
import { versionSortKey } from '../../shared/core/bundle/identity';
import { healthPolicyFrom, type HealthPolicy } from '../../shared/core/health/policy';
import { loadConfig, type Config } from '../../shared/core/config';

const here = dirname(fileURLToPath(import.meta.url));
export const FIXTURES = join(here, 'fixtures');

/** A port fake for Dispatcher: records what would go to the SQS queue / runner pool. */
export class RecordingDispatcher implements Dispatcher {
  readonly items: DispatchItem[] = [];
  async dispatch(items: DispatchItem[]): Promise<void> {
    this.items.push(...items);
  }
  take(): DispatchItem[] {
    return this.items.splice(0, this.items.length);
  }
}

export const T0 = Date.UTC(2026, 0, 1);

export function fixtureBytes(file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES, file)));
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A registration as the manager would make it, for a bundle with the given manifest. */
export function registration(
  name: string,
  opts: {
    version?: string;
    cycleSeconds?: number;
    timeoutSeconds?: number;
    firstRunAt?: number;
    bytes?: Uint8Array;
    hasOnEnvelope?: boolean;
    subscriptions?: string[];
  } = {},
): NewRegistration {
  const version = opts.version ?? '1.0.0';
  const bytes = opts.bytes ?? new TextEncoder().encode(`export default { runCycle() {} } // ${name}`);
  return {
    name,
    version,
    versionKey: versionSortKey(version),
    bundleKey: `agents/${name}/${version}.mjs`,
    sha256: sha256(bytes),
    size: bytes.byteLength,
    signer: null,
    manifest: {
      cycleSeconds: opts.cycleSeconds ?? 60,
      timeoutSeconds: opts.timeoutSeconds ?? 5,
      subscriptions: opts.subscriptions ?? [],
      hasOnEnvelope: opts.hasOnEnvelope ?? false,
    },
    at: new Date(T0).toISOString(),
    firstRunAt: opts.firstRunAt ?? T0,
  };
}

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ AGENT_SCHEDULE_SHARDS: '3', ...env });
}

export function testPolicy(env: Record<string, string> = {}): HealthPolicy {
  return healthPolicyFrom(testConfig(env));
}

/**
 * The real object with some of its methods replaced (fault injection around a real store): the
 * replacements are used as given, every other method is the object's own, bound to it.
 */
export function withFaults<T extends object>(target: T, overrides: Partial<{ [K in keyof T]: T[K] }>): T {
  return new Proxy(target, {
    get(t, prop) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop as keyof T];
      const v = Reflect.get(t, prop) as unknown;
      return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(t) : v;
    },
  });
}
