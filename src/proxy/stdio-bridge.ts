// forward stdio: our stdin → the child's stdin and the child's stdout → our stdout, byte
// for byte as they arrive, with backpressure both ways. Messages are framed on the side
// for observation only; what the client receives is exactly what the child wrote.
// With a gate (a policy loaded), lines are framed before they are written instead: each
// client line is judged (forwarded, delayed, answered to the client, or refused) and the
// child's lines are written whole, so an answer never lands inside one, and the response
// to a list request a `hide` rule rewrites is rewritten.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { gatedLines } from '../bridge/gated-lines.js';
import type { MessageGate } from '../mcp/gate.js';
import type { McpMessageSink, MessageOrigin } from '../mcp/inspector.js';
import { NdjsonFramer } from '../mcp/ndjson.js';

const NL = Buffer.from('\n');

/** The streams and settings a bridge runs with (the process's own, in the CLI). */
export interface StdioBridgeOptions {
  readonly command: readonly string[];
  readonly input: Readable;
  readonly output: Writable;
  readonly shutdownTimeoutMs: number;
  /** Time between SIGTERM and SIGKILL. */
  readonly killGraceMs: number;
  readonly sink: McpMessageSink;
  /** The deciders' gate, or null (then bytes pass as they arrive). */
  readonly gate: MessageGate | null;
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
  const oversize = (from: 'client' | 'server') => (bytes: number): void => {
    sink.skippedBody('too_large', from, origin, bytes);
    log.warn({ from, bytes, limit: sink.limitBytes }, 'message longer than --inspect-limit: forwarded, not inspected');
  };
  const getLog = (): Logger => log;
  const origin: MessageOrigin = { proxySession: 'stdio', mcpSession: null, clientIp: '', onGetStream: false, http: null, log: getLog };
  const gated = opts.gate === null ? null : gatedLines(opts.gate, sink, log, (line) => childIn.write(Buffer.concat([line, NL])), (b) => output.write(b), origin);
  const fromClient = gated?.fromClient ?? new NdjsonFramer(sink.limitBytes, (line) => sink.body(line, 'client', origin), oversize('client'));
  const fromServer = gated?.fromServer ?? new NdjsonFramer(sink.limitBytes, (line) => sink.body(line, 'server', origin), oversize('server'));

  let stopping = false;
  let termTimer: NodeJS.Timeout | null = null;
  let killTimer: NodeJS.Timeout | null = null;

  const onInput = gated !== null ? (chunk: Buffer): void => {
    fromClient.push(chunk);
    if (childIn.writableNeedDrain) input.pause();
  } : (chunk: Buffer): void => {
    if (!childIn.write(chunk)) input.pause();
    fromClient.push(chunk);
  };
  const onChildOut = gated !== null ? (chunk: Buffer): void => {
    fromServer.push(chunk);
    if (output.writableNeedDrain) childOut.pause();
  } : (chunk: Buffer): void => {
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
    gated?.flushDelayed();
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
      gated?.close();
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
