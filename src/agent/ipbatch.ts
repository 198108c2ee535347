// One long-lived `ip -force -batch -` process for the agent's kernel writes, so a failover costs a
// line on a pipe rather than a process start. iproute2 answers each batch line as it reads it; after
// a batch we send `route get 127.x.y.z` with a fresh address and take its answer as the sign that
// every line before it was executed. Errors name their line number ("Command failed -:N").
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

export class IpBatchError extends Error {
  override readonly name = 'IpBatchError';
  constructor(readonly failures: { line: string; error: string }[]) {
    super(
      `ip batch: ${failures.length} command(s) failed: ${failures.map((f) => `"${f.line}": ${f.error}`).join('; ')}`,
    );
  }
}

interface Pending {
  marker: string;
  markerLine: number;
  first: number;
  lines: string[];
  errors: { lineNo: number; error: string }[];
  resolve: () => void;
  reject: (e: Error) => void;
}

export class IpBatch {
  private proc: ChildProcessWithoutNullStreams | undefined;
  private lineNo = 0;
  private seq = 0;
  private readonly queue: Pending[] = [];
  private lastErr = '';
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly netns?: string) {}

  private finish(head: Pending): void {
    this.queue.shift();
    if (!head.errors.length) return head.resolve();
    head.reject(
      new IpBatchError(
        head.errors.map((e) => ({ line: head.lines[e.lineNo - head.first] ?? '?', error: e.error })),
      ),
    );
  }

  private ensure(): ChildProcessWithoutNullStreams {
    if (this.proc && this.proc.exitCode === null && !this.proc.killed) return this.proc;
    const p = spawn('ip', [...(this.netns ? ['-n', this.netns] : []), '-force', '-batch', '-'], {
      stdio: 'pipe',
    });
    this.proc = p;
    this.lineNo = 0;
    createInterface({ input: p.stdout }).on('line', (l) => {
      const head = this.queue[0];
      if (head && l.startsWith(`local ${head.marker} `)) this.finish(head);
    });
    createInterface({ input: p.stderr }).on('line', (l) => {
      const m = /^Command failed -:(\d+)$/.exec(l);
      if (!m) {
        this.lastErr = l;
        return;
      }
      const n = Number(m[1]);
      const err = this.lastErr || 'failed';
      this.lastErr = '';
      const head = this.queue[0];
      // The marker itself failed (no loopback route): the batch is over all the same.
      if (head?.markerLine === n) return this.finish(head);
      this.queue.find((q) => n >= q.first && n < q.markerLine)?.errors.push({ lineNo: n, error: err });
    });
    const failAll = (e: Error) => {
      for (const q of this.queue.splice(0)) q.reject(e);
      this.proc = undefined;
    };
    p.on('exit', (code) => failAll(new Error(`ip -batch exited (${code})`)));
    p.on('error', failAll);
    return p;
  }

  /** Runs the lines in order; resolves when all ran, rejects with every failed line. */
  run(script: string): Promise<void> {
    const lines = script.split('\n').filter((l) => l.trim() !== '');
    const job = this.chain.then(() => this.send(lines));
    this.chain = job.catch(() => {});
    return job;
  }

  private send(lines: string[]): Promise<void> {
    if (!lines.length) return Promise.resolve();
    const p = this.ensure();
    const n = ++this.seq;
    const marker = `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
    return new Promise<void>((resolve, reject) => {
      const first = this.lineNo + 1;
      this.queue.push({
        marker,
        markerLine: first + lines.length,
        first,
        lines,
        errors: [],
        resolve,
        reject,
      });
      this.lineNo += lines.length + 1;
      p.stdin.write(`${lines.join('\n')}\nroute get ${marker}\n`);
    });
  }

  close(): void {
    this.proc?.stdin.end();
    this.proc = undefined;
  }
}
