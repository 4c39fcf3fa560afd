/**
 * Physical names derived from the stack name (`<stack>-<suffix>`), kept within the length the
 * service allows. Cutting the joined string would give two names of one stack the same value
 * once the stack name alone fills the limit (EventBridge rule names: 64 characters), so instead
 * the stack name is cut and followed by a hash of the whole stack name: the suffix stays whole
 * (names within a stack stay distinct) and two long stack names with the same beginning still
 * get different names.
 */
import { createHash } from 'node:crypto';
import type { Construct } from 'constructs';
import { Stack } from 'aws-cdk-lib';

/** EventBridge rule and EventBridge Scheduler schedule group names: at most 64 characters */
export const MAX_RULE_NAME = 64;
export const MAX_SCHEDULE_GROUP_NAME = 64;

const HASH_CHARS = 8;

export function boundedName(stackName: string, suffix: string, max: number): string {
  const plain = `${stackName}-${suffix}`;
  if (plain.length <= max) return plain;
  const keep = max - suffix.length - HASH_CHARS - 2;
  if (keep < 1) throw new Error(`name suffix ${JSON.stringify(suffix)} leaves no room for the stack name within ${max} characters`);
  const hash = createHash('sha256').update(stackName).digest('hex').slice(0, HASH_CHARS);
  return `${stackName.slice(0, keep)}-${hash}-${suffix}`;
}

/** `boundedName` with the name of the scope's stack */
export function stackScopedName(scope: Construct, suffix: string, max: number): string {
  return boundedName(Stack.of(scope).stackName, suffix, max);
}
