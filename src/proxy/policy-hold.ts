// The policy hold, the corridor's phase that exists only with a gate loaded: a request's
// body is gathered before any of it goes upstream, then the gate says whether it is
// forwarded, rewritten on the way back, delayed, answered by the proxy or refused. It
// knows no sockets: the engine asks it at the request's phase points and acts on what it
// says (docs/reference.md "Policies").

import { PolicyTooLargeError, PolicyUnreadableError, type ProxyError } from '../errors.js';
import { BodyCollector } from '../http/body-collector.js';
import { bodyCodingProblem } from '../http/body-coding.js';
import type { RequestHead } from '../http/head.js';
import type { GateContext, Judgement, MessageGate } from '../mcp/gate.js';

/** One connection's hold: reused request after request. */
export class PolicyHold {
  readonly #gate: MessageGate;
  readonly #limit: number;
  readonly #body = new BodyCollector();
  /** The judgement of a body that came whole with its head, kept until the request completes. */
  #early: Judgement | null = null;
  /** True while the request's body is being gathered and judged. */
  holds = false;

  constructor(gate: MessageGate, inspectLimitBytes: number) {
    this.#gate = gate;
    this.#limit = inspectLimitBytes;
  }

  /**
   * Decides from the head: null when the request may go on, else its refusal. A request
   * with a body to read is held (`holds` is true after) until judge().
   */
  begin(req: RequestHead): ProxyError | null {
    this.#body.reset();
    this.#early = null;
    this.holds = false;
    // A tunnel would carry messages no decider sees.
    if (req.upgrade !== null) return new PolicyUnreadableError('a protocol upgrade is refused while a policy is loaded');
    if (req.contentLength === 0 || (req.contentLength < 0 && !req.chunked)) return null;
    const coding = bodyCodingProblem(req);
    if (coding !== null) return new PolicyUnreadableError(coding);
    if (req.contentLength > this.#limit) return new PolicyTooLargeError(this.#limit);
    this.holds = true;
    return null;
  }

  /** Adds body bytes (without chunked framing). */
  push(body: Buffer): void {
    this.#body.push(body, this.#limit);
  }

  /** The refusal once the body outgrew --inspect-limit, else null. */
  overLimit(): ProxyError | null {
    return this.#body.overflow ? new PolicyTooLargeError(this.#limit) : null;
  }

  /**
   * The whole body came with its head (the common case): judged at once. A request that
   * goes on (forward or rewrite) is let go, so it streams as if no gate were there; its
   * judgement is returned. Otherwise null: it stays held until judge().
   */
  judgeEarly(body: Buffer, ctx: GateContext): Judgement | null {
    const j = this.#gate.judge(body, ctx);
    if (j.type === 'forward' || j.type === 'rewrite') {
      this.holds = false;
      return j;
    }
    this.#early = j;
    return null;
  }

  /** The held request is complete: what the gate says to do with it. Lets the request go. */
  judge(ctx: GateContext): Judgement {
    const j = this.#early ?? this.#gate.judge(this.#body.take(), ctx);
    this.#early = null;
    this.#body.reset();
    this.holds = false;
    return j;
  }

  /** Forgets the request (it was answered, refused, or the connection closed). */
  reset(): void {
    this.#body.reset();
    this.#early = null;
    this.holds = false;
  }
}
