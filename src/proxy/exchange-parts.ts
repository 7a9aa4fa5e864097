// The parsers and readers an exchange uses while a request is in flight, lent from a pool
// the app's exchanges share: an idle keep-alive session holds none of them, so thousands
// of idle agent sessions cost their sockets and little else (the idle rows of the bench).

import { createFramer, type Framer } from '../http/framer.js';
import { BodyReader, HeadReader } from '../http/message-reader.js';
import type { SessionRecovery } from '../mcp/session-recovery.js';
import type { Deadline } from './deadline-queue.js';
import type { HttpExchange } from './http-exchange.js';
import { RequestRetry } from './request-retry.js';

/** Largest response head we accept from an upstream. */
export const MAX_RESPONSE_HEAD_BYTES = 65536;
/** Spare sets kept for reuse; past this, a set handed back is freed. */
const SPARE_MAX = 1024;

/** One exchange's framers (llhttp, one per direction), head/body readers and retry state. */
export class ExchangeParts {
  readonly reqFramer: Framer = createFramer('request');
  readonly resFramer: Framer = createFramer('response');
  readonly reqHead: HeadReader;
  readonly resHead = new HeadReader(MAX_RESPONSE_HEAD_BYTES, false);
  readonly reqBody = new BodyReader();
  readonly resBody = new BodyReader();
  readonly retry: RequestRetry;
  /** The --upstream-timeout deadline of the exchange the set is lent to: made on first use, disarmed before the set goes back (only a request in flight waits for a response head). */
  responseDeadline: Deadline<HttpExchange> | null = null;
  // Times of the request in flight (performance.now()): fractions, which V8 keeps in a
  // 16-byte box per field, so they live here and not in every idle exchange.
  /** When the request's head was read. */
  startedAt = 0;
  /** When the request body last moved (the --body-timeout clock). */
  bodyLastAt = 0;

  constructor(maxHeaderBytes: number, recovery: SessionRecovery | null, inspectLimitBytes: number) {
    this.reqHead = new HeadReader(maxHeaderBytes, true);
    this.retry = new RequestRetry(recovery, inspectLimitBytes);
  }

  /** Framers and readers back to a message's start in both directions (an exchange stopped mid-message). */
  clear(): void {
    this.reqFramer.next();
    this.resFramer.next();
    this.reqHead.reset();
    this.resHead.reset();
    this.reqBody.reset();
    this.resBody.reset();
  }
}

/** The app's spare ExchangeParts. */
export class PartsPool {
  readonly #maxHeaderBytes: number;
  readonly #recovery: SessionRecovery | null;
  readonly #inspectLimitBytes: number;
  readonly #spare: ExchangeParts[] = [];

  constructor(maxHeaderBytes: number, recovery: SessionRecovery | null, inspectLimitBytes: number) {
    this.#maxHeaderBytes = maxHeaderBytes;
    this.#recovery = recovery;
    this.#inspectLimitBytes = inspectLimitBytes;
  }

  /** A set ready for a new request. */
  take(): ExchangeParts {
    return this.#spare.pop() ?? new ExchangeParts(this.#maxHeaderBytes, this.#recovery, this.#inspectLimitBytes);
  }

  /** Takes back a set whose framers and readers stand at a message's start (clear() it first otherwise); its retry state is forgotten here. */
  give(parts: ExchangeParts): void {
    // What a request kept for a retry (its head, a body copy) is not kept past it.
    parts.retry.reset();
    if (this.#spare.length >= SPARE_MAX) {
      parts.reqFramer.destroy();
      parts.resFramer.destroy();
      return;
    }
    this.#spare.push(parts);
  }
}
