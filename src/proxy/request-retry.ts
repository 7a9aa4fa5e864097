// The two ways a request is sent again, each at most once, and what each must remember:
//   resend: the upstream closed a reused link before a byte of answer, so it closed it as
//     idle and never read the request. Only a bodyless idempotent request (RFC 9110
//     §9.2.2) qualifies, so even a server that did read it acts the same.
//   recovery (--recover-sessions): the upstream answered 404 (or the SDK examples' 400)
//     for a session it forgot; the handshake is re-run (mcp/session-recovery.ts, its I/O
//     through upstream/) and the request re-sent whole, so its body is copied (bounded by
//     --inspect-limit, Content-Length bodies only).
// It knows no sockets: the engine tells it what happened and asks whether to retry.

import { BodyCollector } from '../http/body-collector.js';
import type { RequestHead, ResponseHead } from '../http/head.js';
import { CallEnvelope, ENVELOPE_OK, readCallEnvelope } from '../mcp/envelope.js';
import { isForgottenSession, REPLAYED_METHODS, type SessionRecovery } from '../mcp/session-recovery.js';

/** The one strict read learn() reuses: it reads synchronously and keeps nothing of the result. */
const LEARN_READ = new CallEnvelope();

/** Methods a request may be sent twice with (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT', 'TRACE']);

/** One request's retry state: reset per request by begin(), forgotten by reset(). */
export class RequestRetry {
  readonly #recovery: SessionRecovery | null;
  readonly #limit: number;
  /** The head as sent upstream, while the request may be resent. */
  #resendHead: Buffer | null = null;
  #resent = false;
  /** The request went on a link that had carried an earlier request. */
  reusedLink = false;
  /** --recover-sessions: the request's body, to learn a handshake from and to re-send. */
  #copy: BodyCollector | null = null;
  #recovered = false;

  constructor(recovery: SessionRecovery | null, inspectLimitBytes: number) {
    this.#recovery = recovery;
    this.#limit = inspectLimitBytes;
  }

  /** A new request starts; `reusedLink`: the session's kept link carries it. */
  begin(req: RequestHead, reusedLink: boolean): void {
    this.#resendHead = null;
    this.#resent = false;
    this.reusedLink = reusedLink;
    if (this.#recovery !== null) {
      this.#recovered = false;
      this.#copy = req.contentLength > 0 && !req.chunked ? new BodyCollector() : null;
    }
  }

  /** Forgets the last request (the set goes back to the pool between requests). */
  reset(): void {
    this.#resendHead = null;
    this.#resent = false;
    this.reusedLink = false;
    this.#copy = null;
    this.#recovered = false;
  }

  /** The head went upstream as `head`: kept when the request could be resent. */
  sentHead(req: RequestHead, head: Buffer): void {
    if (req.contentLength <= 0 && !req.chunked && IDEMPOTENT.has(req.method)) this.#resendHead = head;
  }

  /** Body bytes of the request (without chunked framing), copied for a recovery. */
  copy(body: Buffer): void {
    if (this.#copy !== null) this.#copy.push(body, this.#limit);
  }

  /** True when a closed link before any answer may be answered by sending the request again. */
  canResend(): boolean {
    return this.#resendHead !== null && !this.#resent && this.reusedLink;
  }

  /** The head to send again on a fresh link; the request is not resent twice. */
  takeResend(): Buffer {
    this.#resent = true;
    this.reusedLink = false;
    return this.#resendHead!;
  }

  /** A whole, lone answer of `status` with `body`: true when it says the upstream forgot a session worth recovering. */
  shouldRecover(req: RequestHead, status: number, body: Buffer): boolean {
    const sid = req.mcpSessionId;
    if (this.#recovered || sid === null || (status !== 404 && status !== 400) || !this.#recovery!.knows(sid)) return false;
    // The request is re-sent whole: a body must be in hand.
    const whole = req.contentLength <= 0 && !req.chunked ? true : this.#copy !== null && !this.#copy.overflow;
    return whole && isForgottenSession(status, body);
  }

  /** A recovery is under way: the body to re-send (null when bodyless); not recovered twice. */
  takeBody(): Buffer | null {
    this.#recovered = true;
    return this.#copy === null ? null : this.#copy.take();
  }

  /** A successful answer: teaches the recovery store a session's end, or (`complete`: the whole request was read) its handshake. */
  learn(req: RequestHead, res: ResponseHead, complete: boolean): void {
    const recovery = this.#recovery!;
    const sid = req.mcpSessionId;
    if (req.method === 'DELETE' && sid !== null) return recovery.forget(sid);
    const copy = this.#copy;
    if (!complete || copy === null || copy.overflow || copy.bytes === 0) return;
    const body = copy.whole();
    const env = LEARN_READ;
    if (readCallEnvelope(body, 0, body.length, env) !== ENVELOPE_OK || env.method === null) return;
    if (sid === null && env.method === 'initialize' && res.mcpSessionId !== null) recovery.learnInit(res.mcpSessionId, body);
    else if (sid !== null && REPLAYED_METHODS.has(env.method)) recovery.learnCall(sid, body);
  }
}
