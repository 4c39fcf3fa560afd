import semver from 'semver';
import { z } from 'zod';
import { BundleRejectedError } from '../errors';
import { RESERVED_SENDERS } from '../envelope';

/** Contract: name `[a-z0-9][a-z0-9-]{1,62}`, version semver, key `agents/<name>/<version>.mjs`. */
export const AGENT_NAME_RE = /^[a-z0-9][a-z0-9-]{1,62}$/;
export const BUNDLE_PREFIX = 'agents/';
export const SIDECAR_SUFFIX = '.sig';
/** the most a `.sig` sidecar is read (a base64 ED25519 signature is 88 characters) */
export const SIDECAR_MAX_BYTES = 512;

/** A sender name the orchestrator uses itself (RESERVED_SENDERS): no agent may be called so. */
export const isReservedName = (name: string): boolean => RESERVED_SENDERS.includes(name);

export const AgentNameSchema = z.string().regex(AGENT_NAME_RE, 'agent name must match [a-z0-9][a-z0-9-]{1,62}');
export const VersionSchema = z
  .string()
  .max(128)
  .refine((v) => semver.valid(v) === v, 'version must be a semver version such as 1.2.3');

export interface BundleId {
  name: string;
  version: string;
  key: string;
}

export const bundleKey = (name: string, version: string): string => `${BUNDLE_PREFIX}${name}/${version}.mjs`;

/** True for keys the manager should look at at all (bundles, not sidecars or unrelated files). */
export function isBundleCandidate(key: string): boolean {
  return key.startsWith(BUNDLE_PREFIX) && !key.endsWith(SIDECAR_SUFFIX);
}

/**
 * Parses a hot-directory key. Throws BundleRejectedError (bad_key / bad_name / bad_version) for a
 * key under `agents/` that does not follow the contract.
 */
export function parseBundleKey(key: string): BundleId {
  const m = /^agents\/([^/]+)\/([^/]+)\.mjs$/.exec(key);
  if (!m) throw new BundleRejectedError('bad_key', `key "${key}" is not of the form agents/<name>/<version>.mjs`, { key });
  const name = m[1] as string;
  const version = m[2] as string;
  if (!AGENT_NAME_RE.test(name))
    throw new BundleRejectedError('bad_name', `agent name "${name}" does not match [a-z0-9][a-z0-9-]{1,62}`, { key, name });
  if (isReservedName(name))
    throw new BundleRejectedError(
      'bad_name',
      `agent name "${name}" is reserved: the orchestrator publishes as ${RESERVED_SENDERS.join(', ')} (docs/kafka.md)`,
      { key, name },
    );
  if (semver.valid(version) !== version)
    throw new BundleRejectedError('bad_version', `version "${version}" is not semver`, { key, name, version });
  return { name, version, key };
}

/**
 * Encodes a semver version as a string whose lexicographic order is semver precedence, so that
 * DynamoDB can enforce "only newer versions" in a condition expression (`versionKey < :new`).
 * Numeric parts are zero-padded to 10 digits; a release sorts after its pre-releases ('~' > any
 * identifier character); numeric pre-release identifiers sort before alphanumeric ones.
 */
export function versionSortKey(version: string): string {
  const v = semver.parse(version);
  if (!v) throw new BundleRejectedError('bad_version', `version "${version}" is not semver`);
  const pad = (n: number) => n.toString().padStart(10, '0');
  const core = `${pad(v.major)}.${pad(v.minor)}.${pad(v.patch)}`;
  if (v.prerelease.length === 0) return `${core}~`;
  const pre = v.prerelease.map((id) => (typeof id === 'number' ? `0${pad(id)}` : `1${id}`)).join('.');
  // '!' (0x21) ends the pre-release list so that a shorter list sorts before a longer one
  // sharing its prefix, as semver requires (1.0.0-a < 1.0.0-a.1).
  return `${core}-${pre}!`;
}

export const isNewer = (candidate: string, active: string | null | undefined): boolean => !active || semver.gt(candidate, active);
