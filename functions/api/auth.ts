/**
 * Authentication of API requests.
 * - `token` (local mode): `Authorization: Bearer <token>`, compared in constant time
 *   (crypto.timingSafeEqual over SHA-256 digests, so lengths never leak either).
 * - `iam` (cloud default) / `jwt` (cloud option): API Gateway (or the function URL) has already
 *   authorized the request; the handler refuses any request that reached it without the
 *   authorizer context (defence in depth against a misconfigured route).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ConfigError } from '../../shared/core/errors';
import { UnauthorizedError } from './errors';
import { header, type ApiEvent } from './http';

export type AuthConfig = { mode: 'token'; token: string } | { mode: 'iam' } | { mode: 'jwt' };

export const AuthConfigSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('token'), token: z.string().min(16, 'the API token must be at least 16 characters').max(4096) }),
  z.object({ mode: z.literal('iam') }),
  z.object({ mode: z.literal('jwt') }),
]);

export function parseAuthConfig(input: unknown): AuthConfig {
  const r = AuthConfigSchema.safeParse(input);
  if (!r.success) throw new ConfigError(`invalid API auth configuration: ${z.prettifyError(r.error)}`);
  return r.data;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Who made the request, for logs (never the token). */
export interface Caller {
  kind: 'token' | 'iam' | 'jwt';
  id: string;
}

const IamSchema = z.looseObject({
  iam: z.looseObject({ userArn: z.string().optional(), userId: z.string().optional(), callerId: z.string().optional() }),
});
const JwtSchema = z.looseObject({ jwt: z.looseObject({ claims: z.record(z.string(), z.unknown()).optional() }) });

export function makeAuthenticator(cfg: AuthConfig): (ev: ApiEvent) => Caller {
  const config = parseAuthConfig(cfg);
  if (config.mode === 'token') {
    const expected = digest(config.token);
    return (ev) => {
      const h = header(ev, 'authorization');
      const m = h === undefined ? null : /^Bearer[ ]+([^\s]+)\s*$/i.exec(h);
      // always hash and compare, also when the header is missing, so timing says nothing
      const given = digest(m?.[1] ?? '');
      const ok = timingSafeEqual(given, expected) && m !== null;
      if (!ok) throw new UnauthorizedError(h === undefined ? 'missing Authorization: Bearer <token>' : 'invalid token');
      return { kind: 'token', id: 'token' };
    };
  }
  if (config.mode === 'iam') {
    return (ev) => {
      const r = IamSchema.safeParse(ev.requestContext.authorizer);
      if (!r.success) throw new UnauthorizedError('request was not authorized with IAM (SigV4)');
      return { kind: 'iam', id: r.data.iam.userArn ?? r.data.iam.userId ?? r.data.iam.callerId ?? 'iam' };
    };
  }
  return (ev) => {
    const r = JwtSchema.safeParse(ev.requestContext.authorizer);
    if (!r.success) throw new UnauthorizedError('request was not authorized with a JWT');
    const sub = r.data.jwt.claims?.sub;
    return { kind: 'jwt', id: typeof sub === 'string' ? sub : 'jwt' };
  };
}
