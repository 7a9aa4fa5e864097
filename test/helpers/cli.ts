// Runs the built CLI (dist/cli.js) as a child process, as a user would.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;

/** A running CLI child with its log lines (stderr, pino JSON). */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly lines: Array<Record<string, unknown>>;
  /** Resolves with the first log line for which `pred` holds. */
  waitFor(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or 128+signal). */
  readonly exited: Promise<number>;
  /** Peak resident set size in KiB (VmHWM). */
  peakRssKiB(): number;
}

/** Starts `node dist/cli.js ...args` (or another entry point, such as an installed bin). */
export function startCli(args: string[], entry = CLI, env: NodeJS.ProcessEnv = process.env): CliProcess {
  return startLogged(process.execPath, [entry, ...args], env);
}

/** Starts any command whose stderr carries pino lines (e.g. the CLI under `bash -c 'ulimit …; exec node …'`). */
export function startLogged(file: string, argv: string[], env: NodeJS.ProcessEnv = process.env): CliProcess {
  const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'], env });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  let partial = '';
  child.stderr!.on('data', (d: Buffer) => {
    partial += d.toString();
    let nl = partial.indexOf('\n');
    while (nl !== -1) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ raw: line });
      }
      nl = partial.indexOf('\n');
    }
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGKILL' ? 137 : 128)));
  });
  return {
    child,
    lines,
    exited,
    async waitFor(pred, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(pred);
        if (found !== undefined) return found;
        if (Date.now() > deadline) throw new Error(`log line not seen; got:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, 50);
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
    },
    peakRssKiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    },
  };
}

/** Runs the CLI to completion and returns its exit code and output. */
export function runCli(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}
