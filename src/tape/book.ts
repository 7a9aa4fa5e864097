// The recorded calls of one or more tapes, as replay looks them up: a client request is
// matched by method and params (params._meta aside: it carries per-run progress tokens),
// and gets the recorded answer with what came before it on the same response stream
// (notifications, server requests) and when. Several tapes are one pool; a call recorded
// more than once is answered in recorded order, the last answer repeating once they run out.

import { editDistance } from '../edit-distance.js';
import { isMessage, type LoadedTape, type TapeMessage } from './format.js';

/** One message of a recorded answer, `at` ms after its request arrived. */
export interface Played {
  readonly at: number;
  readonly msg: Record<string, unknown>;
  /** The SSE event id it was sent with, if any. */
  readonly eventId: string | null;
}

/** A recorded request and everything its answer carried. */
export interface RecordedCall {
  readonly method: string;
  readonly params: unknown;
  /** Canonical JSON of params without _meta: the match key. */
  readonly key: string;
  /** The recorded request's progress token, if it had one. */
  readonly progressToken: unknown;
  /** Notifications and server requests sent before the answer, in order. */
  readonly before: readonly Played[];
  /** The response (result or error), or null when the tape ends without one. */
  readonly answer: Played | null;
  /** The answer came as an event stream (text/event-stream) rather than one JSON body. */
  readonly stream: boolean;
  /** The response's status when it was not 200 (e.g. 404 for a forgotten session). */
  readonly status: number;
  readonly tape: string;
}

/** A session's handshake as recorded. */
export interface RecordedSession {
  readonly initialize: RecordedCall;
  /** The upstream issued an Mcp-Session-Id (stateful): replay issues a fresh one. */
  readonly stateful: boolean;
  /** Messages the upstream sent on the session's GET stream, `at` ms after the handshake's answer. */
  readonly getStream: readonly Played[];
  readonly protocolVersion: string | null;
}

/** Canonical JSON: object keys sorted, so the same params written in another order match. */
export function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

/** The match key of a call's params: canonical JSON without params._meta. */
export function paramsKey(params: unknown): string {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) return canonical(params ?? null);
  const { _meta: _ignored, ...rest } = params as Record<string, unknown>;
  return canonical(rest);
}

/** The progress token of a request's params, or undefined. */
export function progressTokenOf(params: unknown): unknown {
  if (params === null || typeof params !== 'object') return undefined;
  const meta = (params as { _meta?: unknown })._meta;
  if (meta === null || typeof meta !== 'object') return undefined;
  return (meta as { progressToken?: unknown }).progressToken;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The messages of a line: one, or a batch's. */
function messagesOf(line: TapeMessage): Record<string, unknown>[] {
  const msg = line.msg;
  if (Array.isArray(msg)) return msg.filter(isObject);
  return isObject(msg) ? [msg] : [];
}

const isRequest = (m: Record<string, unknown>): boolean => typeof m.method === 'string' && 'id' in m && m.id !== null;
const isResponse = (m: Record<string, unknown>): boolean => !('method' in m) && ('result' in m || 'error' in m);

interface OpenCall {
  readonly line: TapeMessage;
  readonly msg: Record<string, unknown>;
  readonly idKey: string;
  readonly before: Played[];
}

/** Every recorded call of a set of tapes. */
export class CallBook {
  readonly sessions: RecordedSession[] = [];
  readonly #calls = new Map<string, RecordedCall[]>();
  readonly #all: RecordedCall[] = [];

  constructor(tapes: readonly LoadedTape[]) {
    for (const tape of tapes) this.#read(tape);
  }

  /** How many calls (initialize aside) the tapes hold. */
  get size(): number {
    return this.#all.length;
  }

  /** The calls recorded for a method and params, in recorded order (empty when none). */
  lookup(method: string, params: unknown): readonly RecordedCall[] {
    return this.#calls.get(`${method}\u0000${paramsKey(params)}`) ?? [];
  }

  /** The recorded call most like a request the tapes do not hold: same method and nearest params, else the nearest method. */
  closest(method: string, params: unknown): RecordedCall | null {
    const key = paramsKey(params);
    let best: RecordedCall | null = null;
    let bestScore = Infinity;
    for (const c of this.#all) {
      const score = c.method === method ? editDistance(c.key, key) : 1_000_000 + editDistance(c.method, method);
      if (score < bestScore) {
        best = c;
        bestScore = score;
      }
    }
    return best;
  }

  /** The handshake to answer an initialize with: one recorded for the same protocol version if any, else the first. */
  session(protocolVersion: unknown): RecordedSession | null {
    return this.sessions.find((s) => s.protocolVersion === protocolVersion) ?? this.sessions[0] ?? null;
  }

  #read(tape: LoadedTape): void {
    const open = new Map<string, OpenCall>();
    const byExchange = new Map<number, OpenCall>();
    const getStream: Played[] = [];
    let initDone: number | null = null;
    for (const e of tape.entries) {
      if (!isMessage(e)) continue;
      const http = e.http;
      for (const m of messagesOf(e)) {
        if (e.dir === 'in') {
          if (!isRequest(m)) continue;
          const call: OpenCall = { line: e, msg: m, idKey: canonical(m.id), before: [] };
          open.set(call.idKey, call);
          if (http?.exchange !== undefined) byExchange.set(http.exchange, call);
          continue;
        }
        if (isResponse(m)) {
          const call = open.get(canonical(m.id));
          if (call === undefined) continue;
          open.delete(call.idKey);
          if (http?.exchange !== undefined) byExchange.delete(http.exchange);
          const recorded = this.#recorded(tape, call, { at: e.t - call.line.t, msg: m, eventId: http?.['event-id'] ?? null },
            http?.['content-type']?.toLowerCase().startsWith('text/event-stream') ?? false, http?.status ?? 200);
          if (recorded.method === 'initialize') {
            const result = m.result as { protocolVersion?: unknown } | undefined;
            this.sessions.push({
              initialize: recorded, stateful: http?.['mcp-session-id'] !== undefined, getStream,
              protocolVersion: typeof result?.protocolVersion === 'string' ? result.protocolVersion : null,
            });
            initDone = e.t;
          } else {
            this.#add(recorded);
          }
          continue;
        }
        // A notification or a server request: whose answer did it come before?
        const played = (from: number): Played => ({ at: e.t - from, msg: m, eventId: http?.['event-id'] ?? null });
        if (http !== undefined && http.method === 'GET') {
          getStream.push(played(initDone ?? e.t));
          continue;
        }
        const owner = http?.exchange !== undefined ? byExchange.get(http.exchange) : this.#ownerOf(m, open);
        if (owner !== undefined) owner.before.push(played(owner.line.t));
      }
    }
    // Calls the tape never saw answered are kept: replay can say so rather than "not recorded".
    for (const call of open.values()) this.#add(this.#recorded(tape, call, null, false, 200));
  }

  /** Over stdio nothing says which request a notification belongs to: its progress token, or the only request open. */
  #ownerOf(m: Record<string, unknown>, open: Map<string, OpenCall>): OpenCall | undefined {
    const token = (m.params as { progressToken?: unknown } | undefined)?.progressToken;
    if (token !== undefined) {
      for (const call of open.values()) if (canonical(progressTokenOf(call.msg.params)) === canonical(token)) return call;
      return undefined;
    }
    if (open.size === 1) return open.values().next().value;
    return undefined;
  }

  #recorded(tape: LoadedTape, call: OpenCall, answer: Played | null, stream: boolean, status: number): RecordedCall {
    const params = call.msg.params;
    return {
      method: call.msg.method as string, params, key: paramsKey(params), progressToken: progressTokenOf(params),
      before: call.before, answer, stream, status, tape: tape.file,
    };
  }

  #add(call: RecordedCall): void {
    const k = `${call.method}\u0000${call.key}`;
    let list = this.#calls.get(k);
    if (list === undefined) {
      list = [];
      this.#calls.set(k, list);
    }
    list.push(call);
    this.#all.push(call);
  }
}
