// The message is the unit above the bytes (see docs/architecture.md
// "Observers, not middlemen"): the inspectors of forward http and forward stdio make
// one McpMessage per JSON-RPC message and hand it to one ordered list of hooks that app/
// builds once. Observers see every message and return nothing; deciders see the client
// messages of a held request and may answer instead of the upstream.

import type { Logger } from 'pino';
import type { MessageKind } from './jsonrpc.js';

/** Who sent a message. */
export type Sender = 'client' | 'server';

/** A logger made on first use: most sessions never log, and a pino child costs memory. */
export type LazyLogger = () => Logger;

/** One JSON-RPC message as it passes. The object and its `bytes` are valid only during the call (the inspector refills one object per message): copy what you keep. */
export interface McpMessage {
  readonly from: Sender;
  /** The proxy session id ('stdio' for forward stdio). */
  readonly proxySession: string;
  /** The MCP session the message belongs to (its request's, for a response), or null. */
  readonly mcpSession: string | null;
  readonly kind: MessageKind;
  /** Method label (known MCP methods verbatim, else 'other'); '' for responses. */
  readonly method: string;
  /** The id as JSON text, or null. */
  readonly id: string | null;
  /** Tool or prompt name (tools/call, prompts/get) or resource uri (resources/read), when read. */
  readonly name: string | null;
  readonly bytes: Buffer;
  /** The client's IP ('' for stdio). */
  readonly clientIp: string;
  /** The message came on a GET event stream (which carries no responses). */
  readonly onGetStream: boolean;
  /** The HTTP exchange that carried it, when some observer asked for it (forward http with --record); else null. */
  readonly http: HttpFacts | null;
  readonly log: LazyLogger;
}

/** What an HTTP exchange said about the message it carried (read only by observers that ask, see MessageObserver.wantsHttp). */
export interface HttpFacts {
  /** Numbers the exchanges of one process: a request and the messages of its response share it. */
  readonly exchange: number;
  readonly method: string;
  /** The request path, without its query (a query may carry a key). */
  readonly path: string;
  /** The response status; 0 on the request's side. */
  readonly status: number;
  readonly contentType: string | null;
  /** Mcp-Session-Id of this side's head (a response without one: its request's). */
  readonly mcpSessionId: string | null;
  /** The request's Last-Event-ID. */
  readonly lastEventId: string | null;
  /** The id of the SSE event that carried the message, or null. */
  readonly eventId: string | null;
}

/** A body that passed but was not read as a message: not JSON, over --inspect-limit, or malformed. */
export interface SkippedBody {
  readonly from: Sender;
  readonly proxySession: string;
  readonly mcpSession: string | null;
  readonly reason: 'not_json' | 'too_large' | 'malformed';
  /** Its size, as far as it was seen. */
  readonly bytes: number;
  readonly http: HttpFacts | null;
}

/** A client message a decider judges: the method as sent (not a label) and whether it has an id. */
export interface ClientCall extends McpMessage {
  /** The method as sent, unbounded (rules may name methods outside MCP's). */
  readonly rawMethod: string;
  readonly hasId: boolean;
  /** Who the caller proved to be (a key's name, a token's sub), or null. */
  readonly subject: string | null;
  /** The caller's verified token claims (--auth-jwt), or null. */
  readonly claims: Readonly<Record<string, unknown>> | null;
}

/** Sees every message; returns nothing and never blocks. */
export interface MessageObserver {
  onMessage(m: McpMessage): void;
  /**
   * `m` came `times` more times in the same socket read (a chunked body's chunks in it
   * count as one read): the same sender, sessions, kind, method and id (a stream of one
   * notification). When every observer has this hook, the inspector of an event stream tells
   * such a run once instead of calling onMessage per message, when the read's work is done
   * (a microtask) or before any other message is told; `m`'s bytes are the run's first
   * message's. Without it an observer sees each message.
   */
  onRepeat?(m: McpMessage, times: number): void;
  /** Set when the observer reads `McpMessage.http` and the optional hooks below (the recorder): the inspector then fills them in. */
  readonly wantsHttp?: boolean;
  /** A body that passed unread. */
  onSkipped?(s: SkippedBody): void;
  /** The client ended an MCP session (DELETE). */
  onMcpSessionEnd?(mcpSession: string): void;
  /** A proxy session (a client connection; stdio's one session) ended. */
  onProxySessionEnd?(proxySession: string): void;
}

/** Answer instead of the upstream: a JSON-RPC result or error member, as JSON text. */
export interface AnswerVerdict {
  readonly type: 'answer';
  readonly member: 'result' | 'error';
  readonly json: string;
}

/** Forward after `ms`. */
export interface DelayVerdict {
  readonly type: 'delay';
  readonly ms: number;
}

/** Forward, and rewrite the result of the response to this request. */
export interface RewriteVerdict {
  readonly type: 'rewrite';
  rewrite(result: Record<string, unknown>): Record<string, unknown>;
}

/** A decider's word on one message; null lets it through untouched. */
export type Verdict = AnswerVerdict | DelayVerdict | RewriteVerdict | null;

/** May answer instead of the upstream. */
export interface MessageDecider {
  /** Whether this decider may care about a message with this method (the exchange holds only those). */
  cares(method: string): boolean;
  decide(m: ClientCall): Verdict;
}

/** The ordered hooks of an app, built once. */
export class MessageHooks {
  readonly observers: readonly MessageObserver[];
  readonly deciders: readonly MessageDecider[];
  /** Some observer reads HTTP facts and the lifecycle hooks: without one the inspector never builds them. */
  readonly wantsHttp: boolean;
  /** Every observer takes runs of one message (onRepeat). */
  readonly takesRuns: boolean;
  readonly #lifecycle: readonly MessageObserver[];

  constructor(observers: readonly MessageObserver[], deciders: readonly MessageDecider[]) {
    this.observers = Object.freeze([...observers]);
    this.deciders = Object.freeze([...deciders]);
    this.#lifecycle = Object.freeze(observers.filter((o) => o.wantsHttp === true));
    this.wantsHttp = this.#lifecycle.length > 0;
    this.takesRuns = observers.every((o) => o.onRepeat !== undefined);
  }

  /** Tells the observers that asked of a body that passed unread. */
  skipped(s: SkippedBody): void {
    for (const o of this.#lifecycle) o.onSkipped?.(s);
  }

  /** Tells the observers that asked that the client ended an MCP session. */
  mcpSessionEnded(mcpSession: string): void {
    for (const o of this.#lifecycle) o.onMcpSessionEnd?.(mcpSession);
  }

  /** Tells the observers that asked that a proxy session ended. */
  proxySessionEnded(proxySession: string): void {
    for (const o of this.#lifecycle) o.onProxySessionEnd?.(proxySession);
  }

  /** Hands a message to every observer, in order. */
  observe(m: McpMessage): void {
    const list = this.observers;
    for (let i = 0; i < list.length; i++) list[i]!.onMessage(m);
  }

  /** Tells every observer of a run (only when takesRuns). */
  repeat(m: McpMessage, times: number): void {
    const list = this.observers;
    for (let i = 0; i < list.length; i++) list[i]!.onRepeat!(m, times);
  }

  /** True when some decider may care about this method. */
  cares(method: string): boolean {
    const list = this.deciders;
    for (let i = 0; i < list.length; i++) if (list[i]!.cares(method)) return true;
    return false;
  }

  /** The first verdict that is not null, asking deciders in order. */
  decide(m: ClientCall): Verdict {
    const list = this.deciders;
    for (let i = 0; i < list.length; i++) {
      if (!list[i]!.cares(m.rawMethod)) continue;
      const v = list[i]!.decide(m);
      if (v !== null) return v;
    }
    return null;
  }
}

/** A JSON-RPC response to `idJson` carrying the verdict's member, as bytes. */
export function answerBytes(idJson: string, verdict: AnswerVerdict): Buffer {
  return Buffer.from(`{"jsonrpc":"2.0","id":${idJson},"${verdict.member}":${verdict.json}}`, 'utf8');
}
