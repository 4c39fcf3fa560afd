/**
 * agentctl — bundle tooling (keygen, sign, verify, publish) and, through cli/ops.ts, the
 * operator commands (thin API client). Exit codes: 0 ok, 1 failed operation, 2 usage error.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AGENT_NAME_RE, bundleKey, isReservedName } from '../shared/core/bundle/identity';
import {
  generateKeyPair,
  nodeCryptoVerifier,
  parsePublicKey,
  publicKeyOf,
  sha256Hex,
  signBundle,
  signingMessage,
} from '../shared/core/bundle/signing';
import { createClients } from '../shared/adapters/aws/clients';
import { S3BundleStore } from '../shared/adapters/aws/s3-bundle-store';
import { OperationError, UsageError } from './errors';
import { resolveTarget, type ApiTarget } from './api-client';
import { checkBundle, ledgerHead, waitForOutcome } from './publish-check';
import { dataDirOf, readLocalEndpoints } from '../shared/definitions/local-data';
import semver from 'semver';

export interface Io {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: NodeJS.ProcessEnv;
}

const USAGE = `usage: agentctl <command> [options]

bundle commands:
  keygen --out DIR [--force]                         write DIR/signing.key (0600) and DIR/signing.pub
  sign FILE --name N --version V --key KEYFILE       print the base64 signature
  verify FILE --name N --version V --sig SIG --pubkey KEY|PUBFILE
  publish FILE --name N --version V --key KEYFILE [--bucket B] [--no-wait] [--wait-timeout S] [--no-check]
                                                     check the bundle (parse, load in the sandbox, manifest), upload it
                                                     to the hot directory (local mode's by default) and, in local mode,
                                                     wait for agent.registered or bundle.rejected (exit 1 with the reason)
authoring commands (no server needed):
  new NAME [--dir DIR]                               write a starter agent project (TypeScript) in DIR (default ./NAME)
  build SRC --out FILE                               bundle TypeScript/JavaScript and its npm dependencies into one ES module
  run FILE [--state JSON] [--envelope JSON] [--cycles N] [--name N] [--json]
                                                     run the agent's cycles here, in the real process runtime
operator commands (API client; --api URL or AGENT_API_URL, token AGENT_API_TOKEN or the local data dir's):
  agents [--status S] [--prefix P] [--limit N] [--cursor C] [--all]
                                                     one page of agents (100 by default); --all pages through every one
  agent N | logs N [--follow] | pause N | resume N | trigger N | restart N | quarantine N | release N
  ledger verify [--digests] | ledger tail [-n N] [--follow] [--topic T] [--agent A]
`;

function bundleArgs(args: string[], extra: Record<string, { type: 'string' | 'boolean' }> = {}) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { name: { type: 'string' }, version: { type: 'string' }, key: { type: 'string' }, ...extra },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new UsageError('expected exactly one FILE');
  const name = values.name as string | undefined;
  const version = values.version as string | undefined;
  if (!name || !AGENT_NAME_RE.test(name)) throw new UsageError('--name must match [a-z0-9][a-z0-9-]{1,62}');
  if (isReservedName(name)) throw new UsageError(`--name ${name} is reserved (a sender the orchestrator uses itself)`);
  if (!version || semver.valid(version) !== version) throw new UsageError('--version must be a semver version such as 1.2.3');
  if (!existsSync(file)) throw new OperationError(`no such file: ${file}`);
  return { file, name, version, values: values as Record<string, string | boolean | undefined>, bytes: new Uint8Array(readFileSync(file)) };
}

function readKey(path: string | undefined): string {
  if (!path) throw new UsageError('--key KEYFILE is required');
  if (!existsSync(path)) throw new OperationError(`no such key file: ${path}`);
  return readFileSync(path, 'utf8').trim();
}

function readPub(v: string): string {
  return existsSync(v) ? readFileSync(v, 'utf8').trim() : v.trim();
}

async function keygen(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, force: { type: 'boolean' } } });
  if (!values.out) throw new UsageError('--out DIR is required');
  const keyPath = join(values.out, 'signing.key');
  if (existsSync(keyPath) && !values.force) throw new OperationError(`${keyPath} exists; use --force to overwrite`);
  mkdirSync(values.out, { recursive: true });
  const kp = generateKeyPair();
  writeFileSync(keyPath, kp.privateKey + '\n', { mode: 0o600 });
  chmodSync(keyPath, 0o600);
  writeFileSync(join(values.out, 'signing.pub'), kp.publicKey + '\n');
  io.stdout.write(`wrote ${keyPath} and ${join(values.out, 'signing.pub')}\npublic key: ${kp.publicKey}\n`);
  return 0;
}

async function sign(args: string[], io: Io): Promise<number> {
  const a = bundleArgs(args);
  io.stdout.write(signBundle(readKey(a.values.key as string | undefined), a.name, a.version, a.bytes) + '\n');
  return 0;
}

async function verify(args: string[], io: Io): Promise<number> {
  const a = bundleArgs(args, { sig: { type: 'string' }, pubkey: { type: 'string' } });
  const sig = a.values.sig as string | undefined;
  const pub = a.values.pubkey as string | undefined;
  if (!sig || !pub) throw new UsageError('--sig SIG and --pubkey KEY|PUBFILE are required');
  const key = parsePublicKey(readPub(pub));
  const sigBytes = Buffer.from(readPub(sig), 'base64');
  const ok = sigBytes.length === 64 && nodeCryptoVerifier(signingMessage(a.name, a.version, sha256Hex(a.bytes)), sigBytes, key);
  if (!ok) throw new OperationError('signature does NOT verify');
  io.stdout.write('signature ok\n');
  return 0;
}

async function publish(args: string[], io: Io): Promise<number> {
  const a = bundleArgs(args, {
    bucket: { type: 'string' },
    endpoint: { type: 'string' },
    'no-wait': { type: 'boolean' },
    'no-check': { type: 'boolean' },
    'wait-timeout': { type: 'string' },
  });
  const priv = readKey(a.values.key as string | undefined);
  const waitArg = (a.values['wait-timeout'] as string | undefined) ?? '60';
  if (!/^[0-9]{1,5}$/.test(waitArg) || Number(waitArg) < 1) throw new UsageError('--wait-timeout must be a number of seconds (1-99999)');
  const key = bundleKey(a.name, a.version);
  // the checks the orchestrator would make, before anything is uploaded (cli/publish-check.ts)
  if (!a.values['no-check']) {
    const m = await checkBundle(a.file, a.bytes, key);
    io.stdout.write(
      `checked ${key}: loads as an agent (cycleSeconds ${m.cycleSeconds}, timeoutSeconds ${m.timeoutSeconds}${
        m.subscriptions.length ? `, subscriptions ${m.subscriptions.join(',')}` : ''
      }${m.hasOnEnvelope ? ', onEnvelope' : ''})\n`,
    );
  }
  const signature = signBundle(priv, a.name, a.version, a.bytes);
  let bucket = a.values.bucket as string | undefined;
  let clients: ReturnType<typeof createClients>;
  // local mode: the API whose ledger says whether the bundle was registered
  let localApi: ApiTarget | null = null;
  if (bucket) {
    const endpoint = (a.values.endpoint as string | undefined) ?? io.env.AWS_ENDPOINT_URL_S3;
    clients = createClients(endpoint ? { endpoints: { s3: endpoint } } : {});
  } else {
    const local = readLocalEndpoints(dataDirOf(io.env));
    if (!local)
      throw new OperationError(
        `local mode is not running (no endpoints.json in ${dataDirOf(io.env)}); start it with npm start or pass --bucket`,
      );
    bucket = local.bucket;
    clients = createClients({ region: 'us-east-1', endpoints: { s3: local.s3 }, localCredentials: true });
    if (!a.values['no-wait']) localApi = await resolveTarget({ api: local.api, env: { ...io.env, AGENT_API_TOKEN: undefined } });
  }
  const head = localApi ? await ledgerHead(localApi) : 0;
  try {
    await new S3BundleStore(clients.s3, bucket).put(key, a.bytes, { signature, signer: publicKeyOf(priv) });
  } catch (e) {
    throw new OperationError(`upload failed: ${(e as Error).message}`);
  }
  io.stdout.write(`published s3://${bucket}/${key} (sha256 ${sha256Hex(a.bytes)})\n`);
  if (!localApi) return 0;
  const outcome = await waitForOutcome(localApi, {
    key,
    name: a.name,
    version: a.version,
    after: head,
    timeoutMs: Number(waitArg) * 1000,
  });
  if (outcome.kind === 'rejected') throw new OperationError(`rejected (${outcome.reason}): ${outcome.message}`);
  io.stdout.write(`registered ${a.name} ${a.version}${outcome.previousVersion ? ` (replaces ${outcome.previousVersion})` : ''}\n`);
  if (outcome.status === 'quarantined')
    io.stdout.write(
      `note: ${a.name} is quarantined: version ${a.version} does not run until \`agentctl release ${a.name}\` (fix → publish a new version → release)\n`,
    );
  return 0;
}

const BUNDLE_COMMANDS: Record<string, (args: string[], io: Io) => Promise<number>> = { keygen, sign, verify, publish };

export async function main(argv: string[], io: Io): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
      (cmd ? io.stdout : io.stderr).write(USAGE);
      return cmd ? 0 : 2;
    }
    const bundleCmd = BUNDLE_COMMANDS[cmd];
    if (bundleCmd) return await bundleCmd(rest, io);
    // Authoring commands (cli/build.ts, run.ts, new.ts), loaded only when needed.
    if (cmd === 'build') return await (await import('./build')).build(rest, io);
    if (cmd === 'run') return await (await import('./run')).run(rest, io);
    if (cmd === 'new') return await (await import('./new')).newAgent(rest, io);
    // Operator commands live in cli/ops.ts (thin API client), loaded only when needed.
    const opsPath = './ops';
    const ops = (await import(opsPath)) as { runOpsCommand(args: string[], io: Io): Promise<number> };
    return await ops.runOpsCommand(argv, io);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`agentctl: ${(e as Error).message}\n${USAGE}`);
      return 2;
    }
    io.stderr.write(`agentctl: ${(e as Error).message}\n`);
    return 1;
  }
}
