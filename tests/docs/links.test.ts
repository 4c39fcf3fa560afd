/**
 * Every link in README.md and docs/*.md resolves inside the repository: a relative link names a
 * file or directory that exists in the repository (never above its root, as `../shared/…` from
 * the README would), a `#anchor` names a heading of the target document (GitHub's heading ids),
 * and there are no links to outside the repository (users may read the docs offline).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = process.cwd();
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The text without fenced code blocks and inline code (links there are examples, not links). */
function prose(md: string): string {
  return md.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '``');
}

/** `[text](target)` links and `[text]: target` definitions of a markdown text. */
function linksOf(md: string): string[] {
  const text = prose(md);
  const inline = [...text.matchAll(/\[(?:[^\]\n]|\n(?!\n))*?\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] as string);
  const defs = [...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1] as string);
  return [...inline, ...defs];
}

/** GitHub's ids of a document's headings (lower case, punctuation dropped, spaces to hyphens, repeats numbered). */
function anchorsOf(md: string): Set<string> {
  const seen = new Map<string, number>();
  const ids = new Set<string>();
  for (const m of md.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = (m[1] as string)
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    ids.add(n === 0 ? base : `${base}-${n}`);
  }
  return ids;
}

describe('documentation links', () => {
  it('the slug rules match GitHub’s on the headings this repository uses', () => {
    expect([...anchorsOf("# A\n## Quick start (local mode)\n### The agent's view (`ctx`)\n## gRPC and Connect\n## A\n")]).toEqual([
      'a',
      'quick-start-local-mode',
      'the-agents-view-ctx',
      'grpc-and-connect',
      'a-1',
    ]);
    expect(linksOf('see [x](a.md#b) and `[y](not-a-link.md)` and\n```\n[z](nor-this.md)\n```\n[d]: docs/d.md')).toEqual([
      'a.md#b',
      'docs/d.md',
    ]);
  });

  it.each(DOCS)('%s: every link stays inside the repository and resolves (files and #anchors)', (doc) => {
    const file = join(ROOT, doc);
    const md = readFileSync(file, 'utf8');
    const problems: string[] = [];
    const links = linksOf(md);
    for (const link of links) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) {
        problems.push(`${link}: points outside the repository`);
        continue;
      }
      const [path = '', anchor] = link.split('#', 2);
      const target = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
      const rel = relative(ROOT, target);
      if (rel.startsWith('..') || resolve(ROOT, rel) !== target) {
        problems.push(`${link}: resolves outside the repository (${rel})`);
        continue;
      }
      if (!existsSync(target)) {
        problems.push(`${link}: ${rel} does not exist`);
        continue;
      }
      if (anchor !== undefined && anchor !== '') {
        if (statSync(target).isDirectory() || !target.endsWith('.md'))
          problems.push(`${link}: an anchor into ${rel}, which is not a document`);
        else if (!anchorsOf(readFileSync(target, 'utf8')).has(anchor)) problems.push(`${link}: ${rel} has no heading #${anchor}`);
      }
    }
    expect(problems).toEqual([]);
    if (doc === 'README.md') expect(links).toContain('docs/contract.md');
  });
});
