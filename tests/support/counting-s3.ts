/**
 * An S3 client at a test's s3rver that counts the response body bytes its caller actually pulls
 * (issue #10, item 3: a bounded read stops early). Each response body is piped through a counting
 * Transform: backpressure holds the socket once the caller stops reading, so the count is what the
 * caller read plus at most a few stream buffers; destroying the body (what a bounded read does at
 * its cap) destroys the socket's stream too. `stripLength` drops the Content-Length header of
 * every response, as a server that does not say (or lies about) the size would.
 */
import { Readable, Transform } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { createClients } from '../../shared/adapters/aws/clients';

export interface CountingS3 {
  client: S3Client;
  /** body bytes that left the socket's stream towards the caller, over every response */
  bytes(): number;
}

export function countingS3(endpoint: string, opts: { stripLength?: boolean } = {}): CountingS3 {
  const client = createClients({ region: 'us-east-1', endpoints: { s3: endpoint }, localCredentials: true, maxAttempts: 1 }).s3;
  let total = 0;
  client.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      const res = (out as { response?: { headers?: Record<string, string>; body?: unknown } }).response;
      if (res && res.body instanceof Readable) {
        const src = res.body;
        const counted = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            total += chunk.byteLength;
            cb(null, chunk);
          },
        });
        counted.on('close', () => src.destroy());
        src.on('error', (e) => counted.destroy(e));
        src.pipe(counted);
        res.body = counted;
        if (opts.stripLength && res.headers) delete res.headers['content-length'];
      }
      return out;
    },
    // inside the deserializer (the 'deserialize' step's default priority): the raw HTTP response
    { step: 'deserialize', name: 'countBodyBytes', priority: 'low' },
  );
  return { client, bytes: () => total };
}
