// forward stdio: our stdin → the child's stdin and the child's stdout → our stdout, byte
// for byte as they arrive, with backpressure both ways. Messages are framed on the side
// for observation only; what the client receives is exactly what the child wrote.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { NdjsonFramer } from '../mcp/ndjson.js';
import type { McpMessageSink } from '../mcp/inspector.js';

/** The streams and settings a bridge runs with (the process's own, in the CLI). */
export interface StdioBridgeOptions {
  readonly command: readonly string[];
  readonly input: Readable;
  readonly output: Writable;
  readonly shutdownTimeoutMs: number;
  /** Time between SIGTERM and SIGKILL. */
  readonly killGraceMs: number;
  readonly sink: McpMessageSink;
  readonly log: Logger;
}

/** A running bridge: `exited` resolves with the exit code the proxy should use. */
export interface StdioBridge {
  readonly child: ChildProcess;
  readonly exited: Promise<number>;
  /** Closes the child's stdin and escalates to SIGTERM, then SIGKILL (a signal arrived). */
  stop(): void;
  /** Kills the child at once (a second signal). */
  kill(): void;
}

/** Spawns the command and joins it to input/output. */
export function startStdioBridge(opts: StdioBridgeOptions): StdioBridge {
  const [file, ...args] = opts.command;
  const log = opts.log;
  const child = spawn(file!, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const childIn = child.stdin!;
  const childOut = child.stdout!;
  const { input, output, sink } = opts;
  const oversize = (from: string) => (bytes: number): void => {
    sink.skipped('too_large');
    log.warn({ from, bytes, limit: sink.limitBytes }, 'message longer than --inspect-limit: forwarded, not inspected');
  };
  const getLog = (): Logger => log;
  const fromClient = new NdjsonFramer(sink.limitBytes, (line) => sink.body(line, 'client', 'stdio', getLog), oversize('client'));
  const fromServer = new NdjsonFramer(sink.limitBytes, (line) => sink.body(line, 'server', 'stdio', getLog), oversize('server'));

  let stopping = false;
  let termTimer: NodeJS.Timeout | null = null;
  let killTimer: NodeJS.Timeout | null = null;

  const onInput = (chunk: Buffer): void => {
    if (!childIn.write(chunk)) input.pause();
    fromClient.push(chunk);
  };
  const onChildOut = (chunk: Buffer): void => {
    if (!output.write(chunk)) childOut.pause();
    fromServer.push(chunk);
  };
  const resumeInput = (): void => {
    input.resume();
  };
  const resumeChildOut = (): void => {
    childOut.resume();
  };
  input.on('data', onInput);
  childIn.on('drain', resumeInput);
  childOut.on('data', onChildOut);
  output.on('drain', resumeChildOut);
  // The child may exit before reading everything; a write to its closed stdin is not our failure.
  childIn.on('error', (err: NodeJS.ErrnoException) => log.debug({ err: err.code ?? err.message }, 'child stdin closed'));
  output.on('error', (err: NodeJS.ErrnoException) => {
    log.warn({ err: err.code ?? err.message }, 'stdout closed by the client');
    stop();
  });

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    input.removeListener('data', onInput);
    input.pause();
    fromClient.end();
    childIn.end();
    // Escalate: the shutdown timeout to exit on its own, then SIGTERM, then SIGKILL.
    termTimer = setTimeout(() => {
      log.warn({ child: child.pid }, 'child did not exit: SIGTERM');
      child.kill('SIGTERM');
      killTimer = setTimeout(() => {
        log.warn({ child: child.pid }, 'child did not exit: SIGKILL');
        child.kill('SIGKILL');
      }, opts.killGraceMs);
    }, opts.shutdownTimeoutMs);
  };
  input.on('end', () => {
    log.info('stdin ended: closing the child\'s stdin');
    stop();
  });

  let started = false;
  const exited = new Promise<number>((resolve) => {
    let code: number | null = null;
    let signal: NodeJS.Signals | null = null;
    let exitSeen = false;
    let outEnded = false;
    let finished = false;
    const done = (): void => {
      if (finished || !exitSeen || !outEnded) return;
      finished = true;
      if (termTimer !== null) clearTimeout(termTimer);
      if (killTimer !== null) clearTimeout(killTimer);
      input.removeListener('data', onInput);
      input.pause();
      fromServer.end();
      const exitCode = code ?? (signal === null ? 1 : 128 + signalNumber(signal));
      if (started) log.info({ code, signal, exitCode }, 'child exited');
      resolve(exitCode);
    };
    child.once('spawn', () => {
      started = true;
      // The process's own pid is in every line already (pino's base): this one is the child's.
      log.info({ child: child.pid, command: opts.command }, 'child started');
    });
    child.on('error', (err) => {
      if (started) {
        // A failed kill() or write after start: the exit event still comes.
        log.warn({ err: err.message }, 'child process error');
        return;
      }
      log.error({ err: err.message, command: file }, 'could not start the child');
      code = 127;
      exitSeen = true;
      outEnded = true;
      done();
    });
    child.on('exit', (c, s) => {
      code = c;
      signal = s;
      exitSeen = true;
      done();
    });
    // Wait for the child's stdout to be read to its end, so no byte is lost.
    childOut.on('end', () => {
      outEnded = true;
      done();
    });
  });

  return {
    child,
    exited,
    stop,
    kill: () => {
      child.kill('SIGKILL');
    },
  };
}

function signalNumber(signal: NodeJS.Signals): number {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 };
  return table[signal] ?? 1;
}
