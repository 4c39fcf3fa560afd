/**
 * Errors of the control API. Each has a stable `code` and an HTTP status; core errors
 * (shared/core/errors.ts and the modules' own errors.ts) are mapped in `statusOf` (http.ts).
 */
import { OrchestratorError } from '../../shared/core/errors';

/** An error the API answers with a given 4xx status. */
export class ApiError extends OrchestratorError {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    code: string,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, details);
  }
}

/** Missing or wrong credentials (token mode: bearer token; iam/jwt: no authorizer context). */
export class UnauthorizedError extends ApiError {
  override name = 'UnauthorizedError';
  constructor(message = 'missing or invalid credentials') {
    super(401, 'unauthorized', message);
  }
}

export class RouteNotFoundError extends ApiError {
  override name = 'RouteNotFoundError';
  constructor(method: string, path: string) {
    super(404, 'route_not_found', `no route for ${method} ${path}`);
  }
}

export class MethodNotAllowedError extends ApiError {
  override name = 'MethodNotAllowedError';
  constructor(
    method: string,
    path: string,
    readonly allowed: string[],
  ) {
    super(405, 'method_not_allowed', `${method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`);
  }
}

/** Request body over the API's size limit. */
export class PayloadTooLargeError extends ApiError {
  override name = 'PayloadTooLargeError';
  constructor(size: number | null, limit: number) {
    super(413, 'payload_too_large', `request body ${size === null ? 'is' : `of ${size} bytes is`} over the limit of ${limit} bytes`);
  }
}

/** Body that is not JSON (or not a JSON object where one is required). */
export class MalformedJsonError extends ApiError {
  override name = 'MalformedJsonError';
  constructor(message: string) {
    super(400, 'malformed_json', message);
  }
}

export class UnsupportedMediaTypeError extends ApiError {
  override name = 'UnsupportedMediaTypeError';
  constructor(type: string) {
    super(415, 'unsupported_media_type', `content-type ${type} is not supported; send application/json`);
  }
}

/** The API was wired without a dependency a route needs (e.g. no component control configured). */
export class NotConfiguredError extends ApiError {
  override name = 'NotConfiguredError';
  constructor(what: string) {
    super(501, 'not_configured', `${what} is not configured on this deployment`);
  }
}
