/** API Gateway HTTP API (payload v2) events as the service sends them to the API functions. */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** The authorizer context of a request that passed the IAM authorizer. */
export const IAM_AUTHORIZER = {
  iam: {
    accessKey: 'AKIA',
    accountId: '123456789012',
    callerId: 'AIDA',
    principalOrgId: null,
    userArn: 'arn:aws:iam::123456789012:user/operator',
    userId: 'AIDA',
  },
};

export function apiGatewayEvent(
  method: string,
  path: string,
  opts: { body?: unknown; authorizer?: unknown; query?: string; region?: string; headers?: Record<string, string> } = {},
): APIGatewayProxyEventV2 {
  const domainName = `abc123.execute-api.${opts.region ?? 'us-east-1'}.amazonaws.com`;
  const ev = {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: opts.query ?? '',
    headers: { 'content-type': 'application/json', host: domainName, ...opts.headers },
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName,
      domainPrefix: 'abc123',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'test' },
      requestId: 'r-1',
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: '01/Jan/2026:00:00:00 +0000',
      timeEpoch: Date.now(),
      ...(opts.authorizer !== undefined ? { authorizer: opts.authorizer } : {}),
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  };
  return ev as APIGatewayProxyEventV2;
}
