/**
 * The streaming endpoint from the caller's side (issue #10, item 9): the stack names the function
 * behind the URL (function URLs need lambda:InvokeFunctionUrl AND lambda:InvokeFunction on it
 * since October 2025), and `agentctl ledger tail --follow` signs the function URL request for
 * service `lambda` — a function URL rejects a signature made for `execute-api` — while the API
 * requests stay `execute-api`. The signatures are recomputed on the receiving side.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SignatureV4 } from '@smithy/signature-v4';
import { authHeaders, NodeSha256, resolveTarget, streamTarget } from '../../cli/api-client';
import { runOpsCommand } from '../../cli/ops';
import { arnOf, synth, tempDir, TEST_PUBKEY } from './synth';

const CREDS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session-token-1' };
const scopeOf = (authorization: string) => /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization)?.slice(1, 3);

describe('the stack names the stream function for the callers’ policies', () => {
  const { stack, template, id } = synth({ trustedKeys: TEST_PUBKEY }, { nag: false });

  it('outputs EventsStreamFunctionArn (the function the URL invokes) and ApiExecuteArn', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown; Description?: string }>;
    expect(outputs.EventsStreamFunctionArn?.Value).toEqual(arnOf(id(stack.api.streamFunction.fn)));
    expect(outputs.EventsStreamFunctionArn?.Description).toMatch(/lambda:InvokeFunctionUrl and lambda:InvokeFunction/);
    template.hasResourceProperties('AWS::Lambda::Url', { TargetFunctionArn: arnOf(id(stack.api.streamFunction.fn)), AuthType: 'AWS_IAM' });
    expect(JSON.stringify(outputs.ApiExecuteArn?.Value)).toContain(JSON.stringify({ Ref: id(stack.api.httpApi) }));
  });
});

describe('agentctl signs the function URL request for `lambda`', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('streamTarget: same credentials, service lambda, region from the function URL host', async () => {
    const api = await resolveTarget({ api: 'https://abc123.execute-api.eu-west-1.amazonaws.com', env: {}, credentials: CREDS });
    expect(api.auth).toMatchObject({ kind: 'iam', service: 'execute-api', region: 'eu-west-1' });
    const url = new URL('https://xyz.lambda-url.eu-central-1.on.aws/');
    const t = streamTarget(api, url);
    expect(t.auth).toMatchObject({ kind: 'iam', service: 'lambda', region: 'eu-central-1' });
    const headers = await authHeaders(t, 'GET', url, undefined, { accept: 'text/event-stream' });
    expect(scopeOf(headers.authorization ?? '')).toEqual(['eu-central-1', 'lambda']);
    // a bearer token (JWT mode) is passed on unchanged
    expect(streamTarget({ base: url, auth: { kind: 'token', token: 't' } }, url).auth).toEqual({ kind: 'token', token: 't' });
  });

  it('ledger tail --follow --iam: API requests scoped execute-api, the AGENT_STREAM_URL request scoped lambda; both signatures verify', async () => {
    const seen: IncomingMessage[] = [];
    const server = createServer((req, res) => {
      seen.push(req);
      if (req.url?.startsWith('/prod/ledger')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ head: 0, entries: [], next: null }));
        return;
      }
      // the function URL: refuse, so the follow loop ends (a 4xx is not retried)
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          Message:
            'Forbidden. For troubleshooting Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html',
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = tempDir('stream-signing-');
    // the AWS SDK's default credential chain reads the process environment
    vi.stubEnv('AWS_ACCESS_KEY_ID', CREDS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', CREDS.secretAccessKey);
    vi.stubEnv('AWS_SESSION_TOKEN', CREDS.sessionToken);
    vi.stubEnv('AWS_PROFILE', '');
    vi.stubEnv('AWS_CONFIG_FILE', join(dir, 'none'));
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', join(dir, 'none'));
    const out: string[] = [];
    const io = {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => out.push(s) },
      env: { AWS_REGION: 'eu-west-1', AGENT_STREAM_URL: `${base}/stream`, AGENT_DATA_DIR: dir },
    };
    try {
      await expect(runOpsCommand(['ledger', 'tail', '--follow', '--iam', '--api', `${base}/prod`], io)).rejects.toThrow(
        /GET \/events\/stream failed: HTTP 403/,
      );
      expect(seen.map((r) => r.url)).toEqual(['/prod/ledger?limit=1', '/stream']);
      const [apiReq, streamReq] = seen as [IncomingMessage, IncomingMessage];
      expect(scopeOf(String(apiReq.headers.authorization))).toEqual(['eu-west-1', 'execute-api']);
      expect(scopeOf(String(streamReq.headers.authorization))).toEqual(['eu-west-1', 'lambda']);
      // the receiver recomputes the stream request's signature for service lambda
      const auth = String(streamReq.headers.authorization);
      const signedHeaders = (/SignedHeaders=([^,]+)/.exec(auth)?.[1] ?? '').split(';');
      const headers: Record<string, string> = {};
      for (const n of signedHeaders) headers[n] = String(streamReq.headers[n]);
      const amzDate = String(streamReq.headers['x-amz-date']);
      const u = new URL(`http://${streamReq.headers.host}${streamReq.url}`);
      const again = await new SignatureV4({ service: 'lambda', region: 'eu-west-1', credentials: CREDS, sha256: NodeSha256 }).sign(
        { method: 'GET', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: u.pathname, query: {}, headers },
        {
          signingDate: new Date(
            `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
          ),
        },
      );
      expect(again.headers.authorization).toBe(auth);
      expect(streamReq.headers['x-amz-security-token']).toBe(CREDS.sessionToken);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
