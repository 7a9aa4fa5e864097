// What every L7 exchange of an app shares, fixed at start: the settings, the request
// rewrite, the app's admission checks (origin, auth, rate limit), the optional phases
// (gate, recovery) and the shared deadline queues.

import type net from 'node:net';
import type { Config } from '../config.js';
import type { ProxyError } from '../errors.js';
import type { RequestRewrite } from '../http/head.js';
import type { MessageGate } from '../mcp/gate.js';
import type { SessionRecovery } from '../mcp/session-recovery.js';
import type { InboundAuth } from '../policy/inbound-auth.js';
import type { Identity } from '../session/identity.js';
import type { Session } from '../session/session.js';
import type { DeadlineQueue } from './deadline-queue.js';
import type { PartsPool } from './exchange-parts.js';
import type { HttpExchange } from './http-exchange.js';

/** What every exchange of an app shares: fixed at start. */
export interface ExchangeContext {
  readonly config: Config;
  readonly rewrite: RequestRewrite;
  /** Marks activity on a session (moves it to the registry's LRU head). */
  touch(session: Session): void;
  /** True once the app is draining for shutdown. */
  isDraining(): boolean;
  /** Rate-limit policy: 0 lets a request from `client` (an IP, or `subject:NAME`) through, else seconds to wait. */
  admitRequest(client: string): number;
  /** Host and Origin checks (always on): null lets the request through, else its 403. */
  admitOrigin(host: string | null, origin: string | null, clientIp: string): ProxyError | null;
  /** --cors: the header lines an answer to a browser from `origin` carries; null without --cors. */
  corsLines(origin: string): string | null;
  /** --auth-keys, --auth-jwt or a hook: every request's credential is checked; null when none is asked for. */
  readonly auth: InboundAuth | null;
  /** Gives `session` the identity a request proved: null, or the error when its caller has --max-per-client sessions already. */
  identify(session: Session, who: Identity): ProxyError | null;
  /** The deciders' gate; null when none is loaded (then no exchange has a hold phase). */
  readonly gate: MessageGate | null;
  /** --recover-sessions: the sessions that can be re-established upstream, or null. */
  readonly recovery: SessionRecovery | null;
  /** From HttpExchange.clocks(): closed with the app. */
  readonly clocks: ExchangeClocks;
  /** Framers and readers lent to exchanges while a request is in flight. */
  readonly parts: PartsPool;
  /** A fresh exchange (observer, inspector and link with it) owning `session`, on a client socket whose listeners are in place: the next request of an idle connection that shed its own. */
  wake(session: Session, client: net.Socket): HttpExchange;
  /** Counts an idle connection shedding its exchange. */
  shed(): void;
}

/** The deadline queues an app's exchanges share. */
export interface ExchangeClocks {
  readonly head: DeadlineQueue<HttpExchange>;
  readonly response: DeadlineQueue<HttpExchange>;
  /** IDLE_SHED_MS after a request ends: an exchange still idle then is shed (IdleClient). */
  readonly idle: DeadlineQueue<HttpExchange>;
}
