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
import { PolicyTooLargeError, PolicyUnreadableError } from '../errors.js';
import { errorBody } from '../http/error-response.js';
import { Envelope, ENVELOPE_OK, readEnvelope } from '../mcp/envelope.js';
import type { MessageGate } from '../mcp/gate.js';
import type { McpMessageSink, MessageOrigin } from '../mcp/inspector.js';
import type { RewriteVerdict } from '../mcp/message.js';
import { LineSplitter, NdjsonFramer } from '../mcp/ndjson.js';
import { rewriteMessage } from '../mcp/result-rewrite.js';

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
  const gated = opts.gate === null ? null : gatedStreams(opts.gate, opts, childIn, (b) => output.write(b), origin);
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

/** The framed sides of a gated bridge. */
interface GatedStreams {
  readonly fromClient: { push(chunk: Buffer): void; end(): void };
  readonly fromServer: { push(chunk: Buffer): void; end(): void };
  /** Writes delayed client lines now (stdin ended: the child's stdin is about to close). */
  flushDelayed(): void;
  close(): void;
}

/** Client lines judged before they reach the child; the child's lines written whole (and rewritten where a hide rule asked). */
function gatedStreams(gate: MessageGate, opts: StdioBridgeOptions, childIn: NodeJS.WritableStream, write: (b: Buffer) => boolean, origin: MessageOrigin): GatedStreams {
  const { sink, log } = opts;
  const limit = sink.limitBytes;
  const NL = Buffer.from('\n');
  // Responses to rewrite, by request id (JSON text); bounded by what clients ask.
  const rewrites = new Map<string, RewriteVerdict>();
  const delayed = new Map<NodeJS.Timeout, Buffer>();
  const env = new Envelope();
  // Answers wait while an oversize child line is being passed on in parts.
  let serverMidLine = false;
  let held: Buffer[] = [];
  const toClient = (line: Buffer): void => {
    const out = Buffer.concat([line, NL]);
    if (serverMidLine) held.push(out);
    else write(out);
  };
  const toChild = (line: Buffer): void => {
    childIn.write(Buffer.concat([line, NL]));
  };
  const refuse = (err: PolicyUnreadableError | PolicyTooLargeError): void => {
    log.warn({ err: err.message }, 'policy: client line refused');
    toClient(Buffer.from(errorBody(err), 'utf8'));
  };
  const fromClient = new LineSplitter(limit, (line) => {
    sink.body(line, 'client', origin);
    const j = gate.judge(line, { proxySession: 'stdio', mcpSession: null, clientIp: '', log: origin.log });
    switch (j.type) {
      case 'forward': return toChild(line);
      case 'rewrite':
        rewrites.set(j.idJson, j.verdict);
        return toChild(line);
      case 'delay': {
        const timer = setTimeout(() => {
          delayed.delete(timer);
          toChild(line);
        }, j.ms);
        delayed.set(timer, line);
        return;
      }
      case 'answer':
        if (j.body !== null) {
          toClient(j.body);
          sink.body(j.body, 'server', origin);
        }
        return;
      case 'refuse': return refuse(new PolicyUnreadableError(j.why));
    }
  }, {
    start: () => {
      refuse(new PolicyTooLargeError(limit));
      return false;
    },
    part: () => {},
    end: () => {},
  });
  const failPending = (why: string): void => {
    for (const id of rewrites.keys()) {
      const body = `{"jsonrpc":"2.0","id":${id},"error":{"code":-32001,"message":"policy: the response could not be filtered: ${why}","data":{"reason":"policy-unreadable"}}}`;
      toClient(Buffer.from(body, 'utf8'));
    }
    rewrites.clear();
  };
  const fromServer = new LineSplitter(limit, (line) => {
    let out = line;
    if (rewrites.size > 0 && readEnvelope(line, 0, line.length, env) === ENVELOPE_OK && env.id !== null && (env.kind === 'result' || env.kind === 'error')) {
      const verdict = rewrites.get(env.id);
      if (verdict !== undefined) {
        rewrites.delete(env.id);
        const rewritten = rewriteMessage(line, env.id, verdict);
        if (rewritten === null) {
          rewrites.set(env.id, verdict);
          return failPending('not valid JSON');
        }
        out = rewritten;
      }
    }
    sink.body(out, 'server', origin);
    toClient(out);
  }, {
    start: (head) => {
      sink.skipped('too_large');
      // Fail closed: a line too long to read may be the response a rule must filter.
      if (rewrites.size > 0) {
        failPending('longer than --inspect-limit');
        return false;
      }
      serverMidLine = true;
      write(head);
      return true;
    },
    part: (bytes) => {
      write(bytes);
    },
    end: (passed) => {
      if (!passed) return;
      write(NL);
      serverMidLine = false;
      const waiting = held;
      held = [];
      for (const b of waiting) write(b);
    },
  });
  return {
    fromClient,
    fromServer,
    flushDelayed: () => {
      for (const [timer, line] of delayed) {
        clearTimeout(timer);
        toChild(line);
      }
      delayed.clear();
    },
    close: () => {
      for (const timer of delayed.keys()) clearTimeout(timer);
      delayed.clear();
    },
  };
}
