// What replay sends for one client message (docs/reference.md "Recording and replay (tapes)"): the
// recorded answer to the same call with the client's own id, after what came before it
// on the recorded stream, with progress tokens mapped to the client's. Shared by the
// Streamable HTTP and the stdio replay servers; timing is theirs to apply.

import path from 'node:path';
import { canonical, paramsKey, progressTokenOf, type CallBook, type Played, type RecordedSession } from './book.js';
import type { LogLevel } from '../config.js';

/** `recorded`: each message at its recorded delay; `fast`: all at once, in order. */
export type Timing = 'recorded' | 'fast';

/** What `shadowcat replay` was asked for. */
export interface ReplayArgs {
  readonly target: string;
  readonly host: string;
  readonly port: number;
  readonly timing: Timing;
  readonly stdio: boolean;
  readonly logLevel: LogLevel;
}


/** What to send for one request: messages in order (the last one answers it). */
export interface Reply {
  readonly messages: readonly Played[];
  /** Send as an event stream (as recorded) rather than one JSON body. */
  readonly stream: boolean;
  readonly status: number;
}

/** Which recorded answer each call of one client session has used (repeats go in order). */
export class Cursors {
  readonly #used = new Map<string, number>();

  /** The index of the next recording of `key` to use, out of `count`; the last repeats once all are used. */
  take(key: string, count: number): number {
    const i = this.#used.get(key) ?? 0;
    this.#used.set(key, i + 1);
    return Math.min(i, count - 1);
  }
}

const JSONRPC = '2.0';

/** A call as a person reads it in an error message: method and params, cut short. */
function describe(method: string, params: unknown): string {
  const p = params === undefined ? '' : paramsKey(params);
  return p === '' || p === '{}' || p === 'null' ? method : `${method} ${p.length > 120 ? `${p.slice(0, 119)}…` : p}`;
}

/** A JSON-RPC error reply, at once. */
function errorReply(id: unknown, code: number, message: string, data: unknown): Reply {
  return { messages: [{ at: 0, eventId: null, msg: { jsonrpc: JSONRPC, id, error: { code, message, data } } }], stream: false, status: 200 };
}

/** The reply to a request: the recorded answer, or -32601 naming the closest recorded call. */
export function replyTo(book: CallBook, cursors: Cursors, request: Record<string, unknown>, session: RecordedSession | null): Reply {
  const method = request.method as string;
  const params = request.params;
  const id = request.id;
  const liveToken = progressTokenOf(params);
  const calls = method === 'initialize' && session !== null ? [session.initialize] : book.lookup(method, params);
  if (calls.length === 0) {
    const near = book.closest(method, params);
    return errorReply(id, -32601, `not in the tape: ${describe(method, params)}${near === null ? '' : `; closest recorded call: ${describe(near.method, near.params)}`}`, {
      reason: 'not-recorded',
      closest: near === null ? null : { method: near.method, params: near.params, tape: path.basename(near.tape) },
    });
  }
  const call = calls[cursors.take(`${method}\u0000${calls[0]!.key}`, calls.length)]!;
  if (call.answer === null) {
    return errorReply(id, -32603, `the tape ends before ${method} was answered`, { reason: 'unanswered', tape: path.basename(call.tape) });
  }
  const recordedToken = call.progressToken === undefined ? undefined : canonical(call.progressToken);
  const messages: Played[] = [];
  for (const p of call.before) {
    const m = p.msg;
    const token = (m.params as { progressToken?: unknown } | undefined)?.progressToken;
    if (m.method === 'notifications/progress' && token !== undefined && canonical(token) === recordedToken) {
      // Progress is sent only to a request that asked for it, under the client's token.
      if (liveToken === undefined) continue;
      messages.push({ ...p, msg: { ...m, params: { ...(m.params as Record<string, unknown>), progressToken: liveToken } } });
    } else {
      messages.push(p);
    }
  }
  messages.push({ ...call.answer, msg: { ...call.answer.msg, id } });
  return { messages, stream: call.stream, status: call.status };
}
