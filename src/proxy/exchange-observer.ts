// The hooks an exchange calls as a message passes (docs/architecture.md "Observers, not middlemen").
// Observers copy what they need, bounded, and never delay a write.

import type net from 'node:net';
import type { RequestHead, ResponseHead } from '../http/head.js';
import type { LazyLogger } from '../mcp/message.js';

/** Per-session observer of the L7 corridor; hooks named in lifecycle order. */
export interface ExchangeObserver {
  /** True when the observer wants body bytes (onRequestBody / onResponseBody). */
  readonly wantsBodies: boolean;
  onRequestHead(req: RequestHead): void;
  onRequestBody(chunk: Buffer): void;
  onRequestEnd(): void;
  onResponseHead(req: RequestHead, res: ResponseHead): void;
  onResponseBody(chunk: Buffer): void;
  /** A decider answered the request instead of the upstream: the JSON-RPC response sent. */
  onAnswer(body: Buffer): void;
  /** The session's logger (made on first use). */
  readonly log: LazyLogger;
  /** The exchange ended: status sent (0 when none), and how long it took. */
  onResponseEnd(req: RequestHead | null, status: number, durationMs: number): void;
  /** A new upstream connection was opened for this session (not an idle link handed on). */
  onUpstreamConnected(socket: net.Socket): void;
  /** The upstream failed: `kind` is connect | timeout | reset | protocol | tls | fd-exhausted. */
  onUpstreamError(kind: string, error: unknown): void;
  /** The upstream's answer said it forgot the session; held for a recovery, so onResponseHead does not see it. */
  onForgottenSession(req: RequestHead, res: ResponseHead): void;
  /** The id (JSON text) of the request read whole and not yet answered, for an error the proxy writes; null when unknown. */
  requestIdJson(): string | null;
}
