// `shadowcat replay TAPE|DIR --stdio`: tapes played back as a stdio MCP server. Lines of
// JSON-RPC in on stdin; each request's recorded notifications and answer out on stdout,
// in order (and at their recorded delays with --timing recorded). Ends when stdin ends
// and every pending answer is written.

import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../observe/logger.js';
import type { CallBook, RecordedSession } from './book.js';
import { Cursors, replyTo, type Timing } from './replay.js';

const MAX_LINE = 16 * 1024 * 1024;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Serves `input` → `output` until input ends; resolves when the last answer is written. */
export function runReplayStdio(book: CallBook, opts: { input: Readable; output: Writable; timing: Timing; log: Logger }): Promise<void> {
  const { input, output, timing, log } = opts;
  const cursors = new Cursors();
  let session: RecordedSession | null = null;
  const timers = new Set<NodeJS.Timeout>();
  let ended = false;
  let done: (() => void) | null = null;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const maybeDone = (): void => {
    if (ended && timers.size === 0) done?.();
  };
  const write = (msg: unknown): void => {
    output.write(`${JSON.stringify(msg)}\n`);
  };
  const at = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
      maybeDone();
    }, ms);
    timers.add(timer);
  };

  const onMessage = (m: Record<string, unknown>): void => {
    if (typeof m.method !== 'string' || !('id' in m)) return;
    if (m.method === 'initialize') {
      session = book.session((m.params as { protocolVersion?: unknown } | undefined)?.protocolVersion);
      if (session === null) {
        write({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'not in the tape: initialize (no tape holds a handshake)' } });
        return;
      }
    }
    const reply = replyTo(book, cursors, m, session);
    log.debug({ method: m.method }, 'replay: request');
    // One chain of timers per reply keeps its messages in order. Each message is its own
    // write in its own turn, as a server writes them: a client that reads a notification and
    // the answer in one chunk may drop the notification (the SDK's stdio client does).
    const started = performance.now();
    let i = 0;
    const next = (): void => {
      if (i >= reply.messages.length) return;
      const wait = timing === 'fast' ? 0 : reply.messages[i]!.at - (performance.now() - started);
      if (wait > 1 || i > 0) return at(Math.max(wait, 0), send);
      send();
    };
    const send = (): void => {
      write(reply.messages[i]!.msg);
      i++;
      next();
    };
    next();
  };

  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const onLine = (line: Buffer): void => {
    const text = line.toString('utf8').trim();
    if (text === '') return;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      write({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
      return;
    }
    for (const m of Array.isArray(v) ? v : [v]) if (isObject(m)) onMessage(m);
  };
  // A line over MAX_LINE is dropped whole: the rest of it, up to its newline, too.
  let skipping = false;
  input.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      const part = chunk.subarray(start, nl);
      start = nl + 1;
      if (skipping) {
        skipping = false;
        continue;
      }
      if (pending.length > 0) {
        pending.push(part);
        onLine(Buffer.concat(pending));
        pending = [];
        pendingBytes = 0;
      } else {
        onLine(part);
      }
    }
    if (start < chunk.length && !skipping) {
      pendingBytes += chunk.length - start;
      if (pendingBytes > MAX_LINE) {
        log.warn({ bytes: pendingBytes }, 'replay: line too long, dropped');
        pending = [];
        pendingBytes = 0;
        skipping = true;
      } else {
        pending.push(Buffer.from(chunk.subarray(start)));
      }
    }
  });
  input.on('end', () => {
    if (pending.length > 0 && !skipping) onLine(Buffer.concat(pending));
    ended = true;
    maybeDone();
  });
  return finished;
}
