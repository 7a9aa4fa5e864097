// A stdio MCP server as an upstream resource (docs/architecture.md "Two paths"): spawned in its own
// process group, its stdout framed into lines, its stderr logged (bounded), stopped by
// closing its stdin, then SIGTERM to its group, then SIGKILL. Every live child is known
// to the process, so none outlives it: an exit of the proxy, graceful or not, kills the
// groups that are left.

import type { LineHandler, LineUpstream } from './line-upstream.js';
import { ChildSpawnError, type ProxyError } from '../errors.js';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../observe/logger.js';
import { LineSplitter } from '../mcp/ndjson.js';

/** Time a child gets between stdin closing and SIGTERM, and between SIGTERM and SIGKILL. */
const STOP_STEP_MS = 2000;
/** stderr: longest line logged, lines a second logged per child, bytes kept for the exit line. */
const STDERR_LINE = 1000;
const STDERR_PER_SECOND = 20;
const STDERR_TAIL = 2048;
/** Lines kept while nobody owns the child yet (a warm pooled child's banner, say). */
const UNOWNED_LINES = 64;
/** Bytes waiting in the child's stdin past which it counts as not keeping up. */
export const STDIN_BACKLOG_LIMIT = 8 * 1024 * 1024;

const live = new Set<StdioChild>();
let exitHookSet = false;

function killGroups(): void {
  for (const c of live) c.kill();
}

/** A spawned stdio server. */
export class StdioChild implements LineUpstream {
  readonly command: readonly string[];
  readonly #proc: ChildProcess;
  readonly #lines: LineSplitter;
  #handler: LineHandler | null = null;
  #queued: Buffer[] = [];
  #log: Logger;
  #started = false;
  #gone = false;
  #stopping = false;
  #exitInfo: { code: number | null; signal: NodeJS.Signals | null; error: Error | null } | null = null;
  #timers: NodeJS.Timeout[] = [];
  #stderrTail = '';
  #stderrWindow = 0;
  #stderrCount = 0;
  #stderrPartial = '';
  /** Resolves once the process is gone. */
  readonly gone: Promise<void>;

  /** Spawns `command`; lines longer than `limitBytes` are dropped (and logged). */
  constructor(command: readonly string[], limitBytes: number, log: Logger) {
    this.command = command;
    this.#log = log;
    if (!exitHookSet) {
      exitHookSet = true;
      process.on('exit', killGroups);
    }
    const [file, ...args] = command;
    // Own process group: a stop reaches the server's own children too (npx → node).
    this.#proc = spawn(file!, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    live.add(this);
    let resolveGone!: () => void;
    this.gone = new Promise((r) => (resolveGone = r));
    this.#lines = new LineSplitter(limitBytes, (line) => this.#deliver(line), {
      start: (head) => {
        this.#log.warn({ child: this.pid, bytes: head.length, limit: limitBytes }, 'child line longer than --max-body-size: dropped');
        return false;
      },
      part: () => {},
      end: () => {},
    });
    const proc = this.#proc;
    proc.once('spawn', () => {
      this.#started = true;
    });
    proc.stdout!.on('data', (chunk: Buffer) => this.#lines.push(chunk));
    proc.stderr!.on('data', (chunk: Buffer) => this.#stderr(chunk));
    // A child that exits before reading everything: a write to its closed stdin is no failure of ours.
    proc.stdin!.on('error', () => {});
    let exitSeen = false;
    let outEnded = false;
    const finish = (): void => {
      if (this.#gone || !exitSeen || !outEnded) return;
      this.#gone = true;
      live.delete(this);
      for (const t of this.#timers) clearTimeout(t);
      this.#timers = [];
      this.#lines.end();
      const info = this.#exitInfo!;
      if (this.#handler !== null) this.#handler.exit(info.code, info.signal, info.error);
      resolveGone();
    };
    proc.on('error', (err) => {
      if (this.#started) return; // a failed kill: the exit event still comes
      this.#exitInfo = { code: null, signal: null, error: err };
      exitSeen = true;
      outEnded = true;
      finish();
    });
    proc.on('exit', (code, signal) => {
      this.#exitInfo ??= { code, signal, error: null };
      exitSeen = true;
      // stdout may still hold lines: they are read to its end first (a timer in case a grandchild keeps it open).
      this.#timers.push(setTimeout(() => {
        outEnded = true;
        finish();
      }, 1000).unref());
      finish();
    });
    proc.stdout!.on('end', () => {
      outEnded = true;
      finish();
    });
  }

  /** The child's pid (null when it never started). */
  get pid(): number | null {
    return this.#proc.pid ?? null;
  }

  /** False once the child exited or is being stopped. */
  get usable(): boolean {
    return !this.#gone && !this.#stopping;
  }

  /** The last bytes of stderr (for the log line of an early exit). */
  get stderrTail(): string {
    return this.#stderrTail;
  }

  /** Gives the child to an owner: lines it printed before are handed over first; an exit already seen is told at once. */
  own(handler: LineHandler, log: Logger): void {
    this.#handler = handler;
    this.#log = log;
    const queued = this.#queued;
    this.#queued = [];
    for (const l of queued) handler.line(l);
    if (this.#gone) {
      const info = this.#exitInfo!;
      handler.exit(info.code, info.signal, info.error);
    }
  }

  /** Writes one message line; false when the child is gone or its stdin is backed up past the limit. */
  send(line: Buffer | string): boolean {
    if (!this.usable) return false;
    const stdin = this.#proc.stdin!;
    if (stdin.writableLength > STDIN_BACKLOG_LIMIT) return false;
    stdin.write(typeof line === 'string' ? `${line}\n` : Buffer.concat([line, NL]));
    return true;
  }

  /** Stops the child: stdin closed, then SIGTERM to its group, then SIGKILL. */
  stop(): Promise<void> {
    if (this.#gone || this.#stopping) return this.gone;
    this.#stopping = true;
    this.#proc.stdin!.end();
    this.#timers.push(setTimeout(() => {
      this.#signal('SIGTERM');
      this.#timers.push(setTimeout(() => this.#signal('SIGKILL'), STOP_STEP_MS));
    }, STOP_STEP_MS));
    return this.gone;
  }

  /** A command that cannot be started: 502 child-spawn naming it. */
  startFailure(err: Error): ProxyError {
    return new ChildSpawnError(this.command[0] ?? '', err);
  }

  /** Kills the child's group at once. */
  kill(): void {
    if (this.#gone) return;
    this.#stopping = true;
    this.#signal('SIGKILL');
  }

  #signal(signal: NodeJS.Signals): void {
    const pid = this.#proc.pid;
    if (pid === undefined || this.#gone) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group may be gone already (or the child changed its own group): the child itself then.
      try {
        this.#proc.kill(signal);
      } catch {
        // gone
      }
    }
  }

  #deliver(line: Buffer): void {
    if (this.#handler !== null) {
      this.#handler.line(line);
    } else if (this.#queued.length < UNOWNED_LINES) {
      this.#queued.push(line);
    }
  }

  #stderr(chunk: Buffer): void {
    const text = chunk.toString('utf8');
    this.#stderrTail = (this.#stderrTail + text).slice(-STDERR_TAIL);
    const lines = (this.#stderrPartial + text).split('\n');
    this.#stderrPartial = (lines.pop() ?? '').slice(0, STDERR_LINE);
    const now = Date.now();
    for (const l of lines) {
      if (l === '') continue;
      if (now - this.#stderrWindow >= 1000) {
        if (this.#stderrCount > STDERR_PER_SECOND) this.#log.warn({ child: this.pid, suppressed: this.#stderrCount - STDERR_PER_SECOND }, 'child stderr lines suppressed');
        this.#stderrWindow = now;
        this.#stderrCount = 0;
      }
      if (++this.#stderrCount <= STDERR_PER_SECOND) this.#log.info({ child: this.pid, stderr: l.slice(0, STDERR_LINE) }, 'child stderr');
    }
  }
}

const NL = Buffer.from('\n');

/** Children alive now (for tests and /metrics). */
export function liveChildren(): number {
  return live.size;
}
