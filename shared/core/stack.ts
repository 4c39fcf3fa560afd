/**
 * An agent's error stack as the orchestrator keeps and shows it (agent.failed, GET /agents/NAME,
 * agentctl agent NAME): the agent's own frames, each naming the bundle's key
 * (`agents/<name>/<version>.mjs:LINE:COL`), bounded in size.
 *
 * The stack comes from untrusted code (the runtimes send what the agent's error says), so it is
 * treated as text: frames that name the bundle through the way it was loaded (a `data:` URL, a
 * file in a scratch or temp directory) are renamed to the key, frames of the runtime's own kernel
 * (`[eval]`, `[worker eval]`) and of Node's internals are dropped, and the result is cut to
 * `MAX_STACK_FRAMES` frames and `MAX_STACK_BYTES` bytes.
 */

export const MAX_STACK_FRAMES = 20;
export const MAX_STACK_BYTES = 4096;

/** How the bundle may be named in a frame other than by its key. */
const LOADED_AS = [
  // the runtimes import the bytes from memory
  /data:text\/javascript;base64,[A-Za-z0-9+/=]*/g,
  // a bundle written to a file (a scratch directory, a temp directory, a presigned download)
  /(?:file:\/\/)?\/[^\s():]*\/agents\/[a-z0-9][a-z0-9-]{0,62}\/[0-9A-Za-z.+-]+\.mjs/g,
];

const FRAME_RE = /^\s+at\s/;
/** frames of the runtime around the agent, not the agent's */
const HOST_FRAME_RE = /\((?:\[eval\]|\[worker eval\]|node:[^)]*)(?::\d+:\d+)?\)$|^\s+at\s(?:\[eval\]|\[worker eval\]|node:)\S*$/;

/**
 * The stack to keep for `key`, or null when there is none worth keeping. Its first line(s) are the
 * stack's own (V8's `Name: message`); `message` stands in when the stack has none.
 */
export function agentStack(stack: string | null | undefined, key: string, message?: string | null): string | null {
  if (typeof stack !== 'string' || stack.trim() === '') return null;
  let text = stack.replace(/\r\n?/g, '\n');
  for (const re of LOADED_AS) text = text.replace(re, key);
  const lines = text.split('\n');
  const firstFrame = lines.findIndex((l) => FRAME_RE.test(l));
  const head = firstFrame < 0 ? lines : lines.slice(0, firstFrame);
  const frames = (firstFrame < 0 ? [] : lines.slice(firstFrame)).filter((l) => FRAME_RE.test(l) && !HOST_FRAME_RE.test(l));
  const shown = frames.slice(0, MAX_STACK_FRAMES).map((l) => `    ${l.trim()}`);
  if (frames.length > MAX_STACK_FRAMES) shown.push(`    ... ${frames.length - MAX_STACK_FRAMES} more frames`);
  const title = head.join('\n').trim() || message?.trim() || 'Error';
  let out = [title, ...shown].join('\n');
  if (Buffer.byteLength(out, 'utf8') > MAX_STACK_BYTES) {
    const marker = '\n    ... (cut at 4 KB)';
    out = Buffer.from(out, 'utf8')
      .subarray(0, MAX_STACK_BYTES - marker.length)
      .toString('utf8')
      .replace(/\uFFFD$/, '');
    const nl = out.lastIndexOf('\n');
    out = (nl > 0 ? out.slice(0, nl) : out) + marker;
  }
  return out;
}
