/**
 * Local mode's digest store: one line per digest appended to a file in the data dir
 * (`ledger-digests.jsonl`: `{"digest":"<record>","seq":…,"hash":"…","at":"<iso>"}`, the record
 * of shared/core/ledger/digests.ts being what is read back). Opened for appending only, synced
 * after each line.
 *
 * Limits: in local mode the orchestrator process owns both the ledger and this file, so the
 * file is out of reach of someone who can write DynamoDB Local's tables (another process with
 * the endpoint), not of someone with the data dir. Copy it elsewhere (or point the cloud's
 * Object Lock bucket at what matters) for anchoring that survives that.
 */
import { appendFile, open, readFile } from 'node:fs/promises';
import { iso } from '../../core/clock';
import { digestRecord, parseDigestRecord } from '../../core/ledger/digests';
import type { LedgerDigest, LedgerDigestStore, StoredDigest } from '../../core/ports';

export class FileDigestStore implements LedgerDigestStore {
  constructor(readonly file: string) {}

  get where(): string {
    return this.file;
  }

  async put(d: LedgerDigest): Promise<StoredDigest> {
    const record = digestRecord(d);
    const before = (await this.lines()).length;
    await appendFile(this.file, `${JSON.stringify({ digest: record, seq: d.seq, hash: d.hash, at: iso(d.at) })}\n`, { mode: 0o600 });
    const fh = await open(this.file, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    return { ...d, ref: `${this.file}:${before + 1}` };
  }

  private async lines(): Promise<string[]> {
    try {
      return (await readFile(this.file, 'utf8')).split('\n').filter((l) => l.trim() !== '');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  async list(): Promise<StoredDigest[]> {
    const out: StoredDigest[] = [];
    for (const [i, line] of (await this.lines()).entries()) {
      let record: unknown;
      try {
        record = (JSON.parse(line) as { digest?: unknown }).digest;
      } catch {
        continue; // not a digest line: it anchors nothing
      }
      const d = typeof record === 'string' ? parseDigestRecord(record) : null;
      if (d) out.push({ ...d, ref: `${this.file}:${i + 1}` });
    }
    return out.sort((a, b) => a.seq - b.seq || a.at - b.at);
  }

  async has(seq: number): Promise<boolean> {
    return (await this.list()).some((d) => d.seq === seq);
  }
}
