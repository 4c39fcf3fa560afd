/**
 * What the operating system offers to keep an agent process from the orchestrator, probed once:
 *
 * - `uid` (the orchestrator runs as root, Linux with util-linux): each agent process gets its own
 *   unprivileged uid/gid (no supplementary groups, no new privileges), and new PID, network and
 *   mount namespaces (`unshare --pid --net --mount --mount-proc --fork --kill-child`). It cannot
 *   signal the orchestrator or another agent (another uid; and it sees only its own PID
 *   namespace, where its parent is pid 0), cannot read the orchestrator's files (the token, the
 *   keys and the emulators' data are root's, mode 0600 or in 0700 directories), reaches no
 *   network at all (not the emulators, not the API), and everything it starts dies with it.
 * - `userns` (not root, unprivileged user namespaces allowed): the same namespaces inside a user
 *   namespace (`--user --map-root-user`). Signals and network are contained as above; files are
 *   not: the agent has the orchestrator's uid, so only Node's permission model keeps it from the
 *   user's files (a seat belt, not a security boundary: README, "Agent runtimes").
 * - `none`: neither works (another OS, no util-linux, user namespaces disabled): only Node's
 *   permission model and an empty environment. Logged once at start.
 *
 * In every mode: `prlimit --data` bounds the process's memory beyond the V8 heap (a 2 GB Buffer
 * fails inside the agent instead of taking the host's memory).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, linkSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';

export type IsolationKind = 'uid' | 'userns' | 'none';

export interface Isolation {
  kind: IsolationKind;
  /**
   * The node binary agent processes start: process.execPath, or (uid mode, where a directory above
   * it is not searchable by other uids, e.g. a checkout under /root or a mktemp directory) a
   * root-owned link or copy of it under the temp directory.
   */
  node: string;
  /** the uid/gid an agent process of this slot runs as (uid mode), else null */
  uidFor(slot: number): number | null;
  /** the command line that starts `argv` (node and its arguments) isolated as `slot`, with a data limit */
  wrap(argv: string[], slot: number, dataLimitBytes: number): { command: string; args: string[] };
}

/** The first uid of the agent processes (uid mode); slot n runs as FIRST_AGENT_UID + n. */
export const FIRST_AGENT_UID = 200_000;

const which = (cmd: string): string | null =>
  ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].map((d) => `${d}/${cmd}`).find((p) => existsSync(p)) ?? null;

const NAMESPACES = ['--pid', '--net', '--mount', '--mount-proc', '--fork', '--kill-child'];

let probed: Isolation | undefined;

/** The data limit the probe starts node with (the smallest an agent process gets). */
const PROBE_DATA_LIMIT = 1024 * 1024 * 1024;

/**
 * The best isolation this host offers (probed once per process); `force` for tests. Each mode is
 * probed by starting node exactly as an agent process would start (the same wrapper, uid, binary
 * and data limit), so a mode that cannot run agents here is never chosen.
 */
export function detectIsolation(force?: IsolationKind): Isolation {
  if (!force && probed) return probed;
  const unshare = which('unshare');
  const setpriv = which('setpriv');
  const prlimit = which('prlimit');
  const limited = (argv: string[], dataLimitBytes: number) => (prlimit ? [prlimit, `--data=${dataLimitBytes}`, '--', ...argv] : argv);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const candidates: Isolation[] = [];
  if (isRoot && unshare && setpriv && (!force || force === 'uid')) {
    candidates.push({
      kind: 'uid',
      node: nodeForOtherUids(),
      uidFor: (slot) => FIRST_AGENT_UID + slot,
      wrap: (argv, slot, data) => {
        const id = FIRST_AGENT_UID + slot;
        return {
          command: unshare,
          args: [
            ...NAMESPACES,
            '--',
            setpriv,
            `--reuid=${id}`,
            `--regid=${id}`,
            '--clear-groups',
            '--no-new-privs',
            '--',
            ...limited(argv, data),
          ],
        };
      },
    });
  }
  if (unshare)
    candidates.push({
      kind: 'userns',
      node: process.execPath,
      uidFor: () => null,
      wrap: (argv, _slot, data) => ({
        command: unshare,
        args: ['--user', '--map-root-user', ...NAMESPACES, '--', ...limited(argv, data)],
      }),
    });
  const none: Isolation = {
    kind: 'none',
    node: process.execPath,
    uidFor: () => null,
    wrap: (argv, _slot, data) => {
      const [command, ...args] = limited(argv, data);
      return { command: command as string, args };
    },
  };
  if (force) return candidates.find((c) => c.kind === force) ?? none;
  probed = candidates.find(startsNode) ?? none;
  return probed;
}

/** Whether `iso` can start an agent process here: node started exactly as an agent's would be. */
function startsNode(iso: Isolation): boolean {
  const { command, args } = iso.wrap([iso.node, '-e', '0'], 0, PROBE_DATA_LIMIT);
  return works(command, args);
}

/** Whether another uid can reach `path`: every directory above it is searchable by others (o+x). */
export function searchableByOthers(path: string): boolean {
  let dir = dirname(path);
  for (;;) {
    try {
      if ((statSync(dir).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (dir === parse(dir).root) return true;
    dir = dirname(dir);
  }
}

/**
 * A node binary an unprivileged uid can execute: process.execPath where it is reachable, else a
 * root-owned hard link (or copy, across file systems) in a fresh 0755 directory under the temp
 * directory (never one found there: another user could have planted it), removed at exit.
 */
function nodeForOtherUids(): string {
  const exec = process.execPath;
  if (searchableByOthers(exec) && (statSync(exec).mode & 0o001) !== 0) return exec;
  try {
    const dir = privateTempDir('agent-orchestrator-node-', 0o755);
    const target = join(dir, 'node');
    try {
      linkSync(exec, target);
    } catch {
      copyFileSync(exec, target);
    }
    chmodSync(target, 0o755);
    return target;
  } catch {
    return exec; // the probe then fails and a weaker mode is chosen
  }
}

/** The temp directory, or (where another uid cannot reach it, e.g. TMPDIR under /root) /tmp or /dev/shm. */
function reachableTempBase(): string {
  return [tmpdir(), '/tmp', '/dev/shm'].find((d) => existsSync(d) && searchableByOthers(join(d, 'x'))) ?? tmpdir();
}

/** A new directory under a temp directory other uids can reach, owned by this process's user, `mode`, removed when the process exits. */
export function privateTempDir(prefix: string, mode: number): string {
  const dir = mkdtempSync(join(reachableTempBase(), prefix));
  chmodSync(dir, mode);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function works(command: string, args: string[]): boolean {
  try {
    return spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 }).status === 0;
  } catch {
    return false;
  }
}

/** Node's permission-model flag: `--permission` where this node knows it (22.13+, 23.5+), else `--experimental-permission`. */
export function permissionFlag(): string {
  return process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission';
}
