// The L7 engine of one client connection: client bytes are framed by llhttp, the head is
// rewritten and sent upstream, body bytes are written through as they arrive, and the
// response comes back the same way. One request is in flight at a time; pipelined bytes
// wait (bounded by one read) until the current response ends. Phases, in order:
//   head → onRequestHead → body → onRequestEnd → response head → onResponseHead →
//   response body → onResponseEnd → (next request | close | tunnel after 101)
// The engine moves bytes and keeps the state machine. What it may do besides is decided
// by phase objects that know no sockets (docs/architecture.md "The L7 engine"): the
// policy hold (policy-hold.ts, only with a gate), the response filter (response-filter.ts,
// a `hide` verdict), retries (request-retry.ts: resend and session recovery) and the SSE
// drain at shutdown (stream-drain.ts). Heads and bodies are read by http/message-reader.ts;
// the upstream socket is held through upstream-link.ts.

import { Buffer } from 'node:buffer';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { view } from '../bytes.js';
import {
  BadRequestError, BodyTimeoutError, BodyTooLargeError, HeaderTimeoutError, HeadTooLargeError,
  PolicyUnreadableError, ProxyError, RateLimitedError, UnsupportedTransferCodingError, UpstreamBrokenError, UpstreamTimeoutError,
} from '../errors.js';
import type { Config } from '../config.js';
import { ChunkedFilter } from '../http/chunked-filter.js';
import { errorResponse, statusFor } from '../http/error-response.js';
import { FRAME_END, FRAME_ERROR, FRAME_MORE } from '../http/framer.js';
import { buildClientResponseHead, buildReframedResponseHead, buildUpstreamRequestHead, framedBefore, framedKeepAlive, keptRequestHead, keptResponseHead, noteRequestFramed, noteResponseFramed, readRequestHead, readResponseHead, type RequestHead, type ResponseHead } from '../http/head.js';
import { BODY_END, BODY_ERROR, BODY_MORE, HEAD_DONE, HEAD_NO_END, HEAD_TOO_LARGE } from '../http/message-reader.js';
import { isEventStream } from '../http/media-type.js';
import type { GateContext } from '../mcp/gate.js';
import type { RewriteVerdict } from '../mcp/message.js';
import { requestIdOf } from '../mcp/request-id.js';
import type { Session, SessionOwner, CloseReason } from '../session/session.js';
import { expectRead } from '../socket-reads.js';
import { dialFailureKind, upstreamSocketError } from '../upstream/connect.js';
import type { UpstreamSource } from '../upstream/upstream-source.js';
import type { ExchangeClocks, ExchangeContext } from './exchange-context.js';
import type { ExchangeObserver } from './exchange-observer.js';
import { admitCaller, OwnAnswer } from './admission.js';
import { bindClient, handClient, stopClientData, unbindClient, type ClientHandler } from './client-events.js';
import { Deadline, DeadlineQueue } from './deadline-queue.js';
import { MAX_RESPONSE_HEAD_BYTES, type ExchangeParts } from './exchange-parts.js';
import { IdleClient } from './idle-client.js';
import { endAndLinger } from './linger.js';
import { policyAnswer } from './own-answers.js';
import { PolicyHold } from './policy-hold.js';
import { pipeSession, type RawPipe } from './raw-pipe.js';
import { FILTER_JSON, FILTER_NONE, FILTER_SSE, ResponseFilter } from './response-filter.js';
import { StreamDrain } from './stream-drain.js';
import { UpstreamLink, type LinkOwner } from './upstream-link.js';

/** Below this a head and its body go out in one write (one syscall, no writev). */
const JOIN_BELOW_BYTES = 16384;
/** How much of a read llhttp gets before the response head is known (most heads are far shorter). */
const HEAD_PROBE_BYTES = 4096;
/** A kept upstream link is retired this long before the upstream's announced keep-alive timeout. */
const KEEP_ALIVE_MARGIN_MS = 1000;
/** How long a keep-alive connection idles between requests before it sheds its exchange (IdleClient): an active session keeps it from request to request. */
const IDLE_SHED_MS = 1000;
/** Single-session: a request body up to this size is gathered before the request takes the shared link. */
const GATHER_LIMIT_BYTES = 1 << 20;
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

// Request phases.
const R_HEAD = 0;
const R_BODY = 1;
const R_DONE = 2;
// Response phases.
const S_IDLE = 0;
const S_WAIT = 1;
const S_BODY = 2;
const S_TUNNEL = 3;
// Reasons the client socket is paused (a bit each, so they can overlap).
const P_BACKPRESSURE = 1;
const P_UPSTREAM = 2;
const P_RESPONSE = 4;
const P_CLOSING = 8;
const P_AUTH = 16;

/** The L7 handler of one client connection; owned by its Session. */
export class HttpExchange implements SessionOwner, ClientHandler, LinkOwner {
  /** The request-head and response-head deadlines every exchange of an app shares. */
  static clocks(config: Config): ExchangeClocks {
    return {
      head: new DeadlineQueue<HttpExchange>(config.headerTimeoutMs, (ex) => ex.#headerTimeout()),
      response: new DeadlineQueue<HttpExchange>(config.upstreamTimeoutMs, (ex) => ex.#responseTimeout()),
      idle: new DeadlineQueue<HttpExchange>(IDLE_SHED_MS, (ex) => ex.#idleExpired()),
    };
  }

  static #onBodyTimeout(exchange: HttpExchange): void {
    exchange.#bodyTimeout();
  }

  static #onDelayed(exchange: HttpExchange): void {
    exchange.#delayTimer = null;
    if (!exchange.#closed) exchange.#release();
  }

  readonly #ctx: ExchangeContext;
  readonly #session: Session;
  readonly #client: net.Socket;
  readonly #link: UpstreamLink;
  readonly #obs: ExchangeObserver;
  /** Framers and readers, lent from the app's pool while a request is in flight (null: idle between requests). */
  #p: ExchangeParts | null = null;

  #reqPhase = R_HEAD;
  #req: RequestHead | null = null;
  #reqBodyBytes = 0;
  #leftover: Buffer | null = null;
  #outQueue: Buffer[] | null = null;
  /** Bytes in #outQueue: what a request gathered while it has no upstream yet. */
  #queuedBytes = 0;
  // Chunked messages lose their extensions and trailers on the way (http/chunked-filter.ts);
  // null while the message in that direction is not chunked.
  #reqChunks: ChunkedFilter | null = null;
  #resChunks: ChunkedFilter | null = null;
  // Made on first use (a chunked body someone reads): most sessions never need them.
  #onRequestData: ((data: Buffer) => void) | null = null;
  #onResponseData: ((data: Buffer) => void) | null = null;
  #requestData(): (data: Buffer) => void {
    return this.#onRequestData ??= (data: Buffer): void => {
      if (this.#held !== null) this.#held.push(data);
      if (this.#obs.wantsBodies) this.#obs.onRequestBody(data);
    };
  }
  #responseData(): (data: Buffer) => void {
    return this.#onResponseData ??= (data: Buffer): void => {
      const stream = this.#stream;
      if (stream !== null && stream.watching) stream.track(data);
      if (this.#filter !== null) this.#filter.push(data);
      if (this.#obs.wantsBodies) this.#obs.onResponseBody(data);
    };
  }
  /** The hold phase: null without a gate, so the engine runs no gate code at all. */
  readonly #policy: PolicyHold | null;
  /** The policy while it holds this request: nothing of it goes upstream until released. */
  #held: PolicyHold | null = null;
  #delayTimer: NodeJS.Timeout | null = null;
  /** A `hide` verdict's rewrite of this request's response, or null. */
  #filter: ResponseFilter | null = null;
  /** The id of a request refused before its body reached the observer (read from the bytes at hand), for its error answer. */
  #failIdJson: string | null = null;
  /** Created with the first GET event stream: watched so shutdown can end it between events. */
  #stream: StreamDrain | null = null;

  #resPhase = S_IDLE;
  #resStatus = 0;
  #resKeepAliveMs = -1;
  #resStarted = false;
  #closeAfter = false;
  /** --cors lines for this request's answer (a browser's allowed Origin), or null. */
  #cors: string | null = null;

  // Links in the app's shared deadline queues (ctx.clocks): no Timeout per connection. The
  // response deadline comes with the parts (#p): an idle session holds none.
  readonly #headDeadline = new Deadline<HttpExchange>(this);
  // The body deadline is a number checked by one lazily armed timer: a chunk only records
  // when it came, so a body costs no setTimeout/clearTimeout pair per chunk.
  #bodyTimer: NodeJS.Timeout | null = null;
  /** Armed (again) each time the exchange goes idle: expiring while still idle, it sheds the exchange (#idleExpired). Made on the first idle. */
  #idleDeadline: Deadline<HttpExchange> | null = null;
  #clientPauses = 0;
  #closed = false;
  /** The client socket was handed to endAndLinger(): teardown must not destroy it. */
  #lingering = false;
  #tunnel: RawPipe | null = null;

  /** `woken`: the client socket's listeners are in place (an idle connection's next request), only their handler changes. */
  constructor(ctx: ExchangeContext, session: Session, client: net.Socket, source: UpstreamSource, obs: ExchangeObserver, ownsSource: boolean, woken = false) {
    this.#ctx = ctx;
    this.#session = session;
    this.#client = client;
    this.#link = new UpstreamLink(source, ownsSource, this);
    this.#obs = obs;
    this.#policy = ctx.gate === null ? null : new PolicyHold(ctx.gate, ctx.config.inspectLimitBytes);
    if (woken) handClient(client, this);
    else bindClient(client, this);
    ctx.clocks.head.arm(this.#headDeadline);
  }

  // ---- SessionOwner -------------------------------------------------------------

  /** Finishes the request in flight, then closes; closes at once when idle. */
  drain(): void {
    if (this.#closed) return;
    // A request whose token is being verified is in flight: it is answered, then the connection closes.
    if (this.#resPhase === S_IDLE && this.#reqPhase === R_HEAD && (this.#p === null || !this.#p.reqHead.pending) && this.#leftover === null && (this.#clientPauses & P_AUTH) === 0) {
      this.#session.close('shutdown');
      return;
    }
    this.#closeAfter = true;
    const stream = this.#stream;
    if (stream !== null && stream.watching && this.#resPhase === S_BODY) {
      stream.draining = true;
      this.#endStreamAtBoundary(stream);
    }
  }

  /** Ends a draining GET event stream if it stands between events (and between chunks). */
  #endStreamAtBoundary(stream: StreamDrain): void {
    const chunks = this.#resChunks;
    if (!stream.atBoundary || (chunks !== null && !chunks.atChunkStart)) return;
    const last = stream.lastBytes(chunks !== null, this.#p!.resBody.remaining >= 0);
    // The upstream's stream is abandoned: its server sees the connection close.
    this.#link.letGo(false);
    this.#obs.onResponseEnd(this.#req, this.#resStatus, performance.now() - this.#p!.startedAt);
    this.#pauseClient(P_CLOSING);
    this.#leftover = null;
    this.#handOffClient();
    if (last !== null) this.#session.bytesOut += last.length;
    endAndLinger(this.#client, last);
    this.#session.close('shutdown');
  }

  /** Destroys both sockets, timers and parser state; called once by Session.close(). */
  teardown(_reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearHeaderTimer();
    this.#clearResponseTimer();
    if (this.#idleDeadline !== null) this.#ctx.clocks.idle.disarm(this.#idleDeadline);
    this.#clearBodyTimer();
    if (this.#delayTimer !== null) clearTimeout(this.#delayTimer);
    this.#delayTimer = null;
    this.#held = null;
    this.#policy?.reset();
    this.#filter = null;
    // A kept link between requests is clean: a pool takes it back (others destroy it).
    this.#link.close(this.#resPhase === S_IDLE);
    this.#tunnel?.destroy();
    this.#tunnel = null;
    if (!this.#lingering) {
      stopClientData(this.#client);
      this.#client.destroy();
    }
    const parts = this.#p;
    if (parts !== null) {
      // The exchange may have stopped mid-message in either direction.
      parts.clear();
      this.#ctx.parts.give(parts);
      this.#p = null;
    }
    this.#outQueue = null;
    this.#queuedBytes = 0;
    this.#leftover = null;
  }

  // ---- client side --------------------------------------------------------------

  /** ClientHandler: the client socket's data event. */
  clientData(chunk: Buffer): void {
    const session = this.#session;
    session.bytesIn += chunk.length;
    this.#ctx.touch(session);
    if (this.#clientPauses !== 0 || this.#leftover !== null) {
      // Bytes already in flight when we paused: keep them for later (one read at most).
      this.#leftover = this.#leftover === null ? chunk : Buffer.concat([this.#leftover, chunk]);
      this.#client.pause();
      return;
    }
    this.#consume(chunk);
  }

  #consume(input: Buffer): void {
    let chunk: Buffer | null = input;
    while (chunk !== null && !this.#closed) {
      if (this.#reqPhase === R_HEAD) {
        if (this.#resPhase !== S_IDLE || (this.#clientPauses & P_CLOSING) !== 0) {
          this.#keepForLater(chunk, P_RESPONSE);
          return;
        }
        chunk = this.#consumeHead(chunk);
      } else if (this.#reqPhase === R_BODY) {
        chunk = this.#consumeBody(chunk);
      } else {
        // A pipelined request (or tunnel bytes after an Upgrade): wait for the response.
        this.#keepForLater(chunk, P_RESPONSE);
        return;
      }
    }
  }

  /** Keeps client bytes that cannot be read yet (ahead of any kept before) and pauses the client. */
  #keepForLater(chunk: Buffer, reason: number): void {
    this.#leftover = this.#leftover === null ? chunk : Buffer.concat([chunk, this.#leftover]);
    this.#pauseClient(reason);
  }

  #consumeHead(chunk: Buffer): Buffer | null {
    // A head begins (or goes on): the set is taken here, as the last request's answer may
    // have given it back within this same read (an answer of the proxy's own, pipelining).
    const parts = (this.#p ??= this.#ctx.parts.take());
    const framer = parts.reqFramer;
    const reader = parts.reqHead;
    const maxHead = this.#ctx.config.maxHeaderBytes;
    // A head like one read before is read as that one was; llhttp frames it unless it framed
    // one like it already. Only a message's first bytes (none kept: llhttp has seen none).
    let req: RequestHead | null = reader.pending ? null : keptRequestHead(chunk, maxHead);
    let bodyStart: number;
    // Where the request ends in this chunk, or -1 when its body goes on past it.
    let end: number;
    if (req !== null && framedBefore(req)) {
      // Framed as a head llhttp framed before (http/head.ts): llhttp never sees it.
      framer.framedAhead(framedKeepAlive(req));
      bodyStart = req.raw.length;
      end = bodyStart + (req.contentLength > 0 ? req.contentLength : 0);
      if (end > chunk.length) end = -1;
    } else {
      const ret = framer.execute(chunk);
      if (ret === FRAME_ERROR) {
        this.#fail(framer.errorName === 'HPE_INVALID_TRANSFER_ENCODING'
          ? new UnsupportedTransferCodingError()
          : new BadRequestError(`malformed request: ${framer.errorReason}`, framer.errorName));
        return null;
      }
      if (!framer.headComplete) {
        if (reader.more(chunk) === HEAD_TOO_LARGE) this.#fail(new HeadTooLargeError(`request head larger than ${maxHead} bytes`));
        else if (this.#headDeadline.at === 0) this.#ctx.clocks.head.arm(this.#headDeadline);
        return null;
      }
      const found = reader.complete(chunk);
      if (found !== HEAD_DONE) {
        this.#fail(found === HEAD_NO_END ? new BadRequestError('request head without an end') : new HeadTooLargeError(`request head larger than ${maxHead} bytes`));
        return null;
      }
      bodyStart = reader.bodyStart;
      end = ret === FRAME_END ? framer.offset : -1;
      if (req === null) {
        try {
          req = readRequestHead(view(reader.all, reader.start, reader.end));
        } catch (err) {
          this.#fail(err);
          return null;
        }
      }
      noteRequestFramed(req, framer.keepAlive);
    }
    reader.reset();
    if (req.method === 'CONNECT') {
      this.#fail(new BadRequestError('CONNECT is not supported: shadowcat forwards to its configured upstream'));
      return null;
    }
    // Not the last request's: a refusal below must not carry another origin's CORS lines.
    this.#cors = null;
    this.#req = req;
    const refused = this.#ctx.admitOrigin(req.host, req.origin, this.#session.clientIp);
    if (refused !== null) {
      this.#fail(refused);
      return null;
    }
    this.#cors = req.origin === null ? null : this.#ctx.corsLines(req.origin);
    const caller = admitCaller(this.#ctx, req, this.#session, this.#cors);
    if (caller !== null) {
      if (caller instanceof Promise) {
        // A token seen for the first time: the client waits (paused) while it is verified.
        this.#pauseClient(P_AUTH);
        void caller.then((refusal) => this.#authSettled(refusal, req, chunk, bodyStart, end));
      } else if (caller instanceof OwnAnswer) this.#answerAndClose(caller.bytes, caller.status);
      else this.#fail(caller);
      return null;
    }
    return this.#admitHead(req, chunk, bodyStart, end);
  }

  /** A verified (or refused) credential: the request goes on where it stopped, then what came meanwhile. */
  #authSettled(refusal: ProxyError | null, req: RequestHead, chunk: Buffer, bodyStart: number, end: number): void {
    if (this.#closed) return;
    if (refusal !== null) return this.#fail(refusal);
    const rest = this.#admitHead(req, chunk, bodyStart, end);
    if (this.#closed) return;
    if (rest !== null) this.#leftover = this.#leftover === null ? rest : Buffer.concat([rest, this.#leftover]);
    this.#resumeClient(P_AUTH);
  }

  /** The head is allowed in: limits, then the request starts (`end`: where it ends in `chunk`, or -1). Returns the bytes after the request. */
  #admitHead(req: RequestHead, chunk: Buffer, bodyStart: number, end: number): Buffer | null {
    const config = this.#ctx.config;
    if (req.contentLength > config.maxBodyBytes) {
      this.#fail(new BodyTooLargeError(`request body larger than ${config.maxBodyBytes} bytes`));
      return null;
    }
    this.#clearHeaderTimer();
    // The upstream said it drops idle links by now: writing on this one would race its close.
    const now = performance.now();
    if (this.#link.stale(now)) this.#link.letGo(false);
    // The budget is whom the session counts for: the caller once a credential named one (one
    // key behind a NAT, or many on one host), else the address.
    const wait = this.#ctx.admitRequest(this.#session.countedAs ?? this.#session.clientIp);
    if (wait > 0) {
      // Refused before its body is read: the id, when the whole body came with the head.
      if (!req.chunked && req.contentLength > 0 && chunk.length - bodyStart >= req.contentLength) {
        this.#failIdJson = requestIdOf(view(chunk, bodyStart, bodyStart + req.contentLength));
      }
      this.#fail(new RateLimitedError('rate limit reached: slow down', wait));
      return null;
    }

    this.#session.requests++;
    this.#reqBodyBytes = 0;
    this.#p!.startedAt = now;
    this.#p!.resFramer.expectNoBody(req.method === 'HEAD');
    this.#resPhase = S_WAIT;
    // The link kept from the last request is a reused one too.
    this.#p!.retry.begin(req, this.#link.socket !== null);
    this.#obs.onRequestHead(req);
    const policy = this.#policy;
    if (policy !== null) {
      const refused = policy.begin(req);
      if (refused !== null) {
        this.#fail(refused);
        return null;
      }
      if (policy.holds) this.#held = policy;
    }
    this.#reqChunks = req.chunked ? new ChunkedFilter(this.#obs.wantsBodies || this.#held !== null ? this.#requestData() : null) : null;

    let body: Buffer;
    let rest: Buffer | null = null;
    if (end !== -1) {
      body = view(chunk, bodyStart, end);
      if (end < chunk.length) rest = view(chunk, end, chunk.length);
      this.#reqPhase = R_DONE;
    } else {
      body = view(chunk, bodyStart, chunk.length);
      this.#reqPhase = R_BODY;
      this.#p!.reqBody.expect(!req.chunked && req.contentLength >= 0 ? req.contentLength - body.length : -1);
      if (!req.chunked && req.contentLength >= 0) expectRead(this.#client, req.contentLength - body.length);
      this.#p!.bodyLastAt = performance.now();
      this.#bodyTimer ??= setTimeout(HttpExchange.#onBodyTimeout, config.bodyTimeoutMs, this);
      const held = this.#held !== null;
      if (held || (this.#link.queues && this.#link.socket === null)) {
        // The body is gathered before the request takes the shared link (or goes anywhere,
        // when held), so a client that waits for 100 Continue gets it from us (RFC 9110
        // §10.1.1 lets a proxy answer).
        if (req.expectContinue && req.versionMinor >= 1) this.#writeClient(CONTINUE);
        if (!held && req.contentLength > GATHER_LIMIT_BYTES) this.#acquireUpstream(true);
      }
    }
    if (this.#held !== null && this.#reqPhase === R_DONE && this.#reqChunks === null) this.#judgeEarly(this.#held, body);
    if (!this.#sendBody(body, req)) return null;
    if (this.#reqPhase === R_DONE) this.#requestDone();
    else if (this.#link.socket === null && !this.#link.queues && this.#held === null) this.#acquireUpstream(false);
    return rest;
  }

  #consumeBody(chunk: Buffer): Buffer | null {
    const reader = this.#p!.reqBody;
    const got = reader.read(chunk, this.#p!.reqFramer);
    if (got === BODY_ERROR) {
      this.#fail(new BadRequestError(`malformed request body: ${this.#p!.reqFramer.errorReason}`, this.#p!.reqFramer.errorName));
      return null;
    }
    if (got === BODY_END) this.#reqPhase = R_DONE;
    else if (reader.remaining >= 0) expectRead(this.#client, reader.remaining);
    this.#p!.bodyLastAt = performance.now();
    const body = reader.body;
    const rest = reader.rest;
    if (body.length > 0 && !this.#sendBody(body)) return null;
    if (this.#reqPhase === R_DONE) this.#requestDone();
    return rest;
  }

  /** Counts and forwards request body bytes (as sent on the wire), after the rewritten head of `req` when given; false when over the limit. */
  #sendBody(input: Buffer, req: RequestHead | null = null): boolean {
    const config = this.#ctx.config;
    this.#reqBodyBytes += input.length;
    if (this.#reqBodyBytes > config.maxBodyBytes) {
      this.#fail(new BodyTooLargeError(`request body larger than ${config.maxBodyBytes} bytes`));
      return false;
    }
    const chunks = this.#reqChunks;
    const body = chunks === null || input.length === 0 ? input : chunks.push(input);
    const held = this.#held;
    // A chunked body reaches the observer (and the hold) through the filter, as data without framing.
    if (body.length > 0 && chunks === null) {
      if (held !== null) held.push(body);
      this.#p!.retry.copy(body);
      if (this.#obs.wantsBodies) this.#obs.onRequestBody(body);
    }
    if (held !== null) {
      const over = held.overLimit();
      if (over !== null) {
        this.#fail(over);
        return false;
      }
    }
    if (req === null) {
      if (body.length > 0) this.#sendUpstream(body);
      return true;
    }
    const join = body.length < JOIN_BELOW_BYTES;
    const head = buildUpstreamRequestHead(req, this.#ctx.rewrite, this.#session.clientIp, join && body.length > 0 ? body : null, this.#upstreamSessionId(req));
    this.#p!.retry.sentHead(req, head);
    this.#sendUpstream(head);
    if (!join) this.#sendUpstream(body);
    return true;
  }

  /** The upstream's id for a recovered session this request names, or null (sent as received). */
  #upstreamSessionId(req: RequestHead): string | null {
    const recovery = this.#ctx.recovery;
    return recovery === null || req.mcpSessionId === null ? null : recovery.upstreamIdFor(req.mcpSessionId);
  }

  /** The client's id for a recovered session a response names, or null (sent as received). */
  #clientSessionId(res: ResponseHead): string | null {
    const recovery = this.#ctx.recovery;
    return recovery === null || res.mcpSessionId === null ? null : recovery.clientIdFor(res.mcpSessionId);
  }

  #requestDone(): void {
    this.#clearBodyTimer();
    this.#obs.onRequestEnd();
    if (this.#held !== null) {
      this.#judge(this.#held);
      return;
    }
    if (this.#link.socket === null) this.#acquireUpstream(false);
    // Time spent waiting for the shared link counts toward --upstream-timeout (docs/reference.md).
    if (this.#link.engaged) this.#armResponseTimer();
  }

  #sendUpstream(buf: Buffer): void {
    const upstream = this.#link.socket;
    if (upstream === null || this.#held !== null) {
      (this.#outQueue ??= []).push(buf);
      this.#queuedBytes += buf.length;
      // Gathering is bounded: past the limit the request gets a connection of its own
      // (a held body is bounded by --inspect-limit instead).
      if (this.#queuedBytes > GATHER_LIMIT_BYTES && this.#held === null) this.#acquireUpstream(true);
      return;
    }
    if (!upstream.write(buf)) this.#pauseClient(P_BACKPRESSURE);
  }

  /** ClientHandler: the client socket's drain event. */
  clientDrain(): void {
    this.#link.resume();
  }

  /** ClientHandler: the client socket's end event. */
  clientEnd(): void {
    if (this.#closed) return;
    // A response already streaming to a client that closed its side is abandoned at once,
    // as nginx does: the upstream must see its stream end (an MCP server allows one GET
    // stream per session, and would refuse the client's reconnect while it lives).
    if (this.#resPhase === S_WAIT && this.#reqPhase === R_DONE) {
      // The client half-closed after its request, before the answer: deliver it, then close.
      this.#closeAfter = true;
      return;
    }
    this.#session.close('client-closed');
  }

  /** ClientHandler: the client socket's error event. */
  clientError(err: Error): void {
    this.#session.close('error', err);
  }

  /** ClientHandler: the client socket's close event. */
  clientClose(): void {
    this.#session.close('client-closed');
  }

  #pauseClient(reason: number): void {
    if (this.#clientPauses === 0) this.#client.pause();
    this.#clientPauses |= reason;
  }

  #resumeClient(reason: number): void {
    if ((this.#clientPauses & reason) === 0) return;
    this.#clientPauses &= ~reason;
    if (this.#clientPauses !== 0 || this.#closed) return;
    const leftover = this.#leftover;
    if (leftover !== null) {
      this.#leftover = null;
      this.#consume(leftover);
    }
    if (this.#clientPauses === 0 && !this.#closed) {
      // A body gap while we held the client is ours, not the client's.
      if (this.#reqPhase === R_BODY) this.#p!.bodyLastAt = performance.now();
      this.#client.resume();
    }
  }

  #headerTimeout(): void {
    if (!this.#closed && this.#reqPhase === R_HEAD && this.#resPhase === S_IDLE) {
      this.#fail(new HeaderTimeoutError(`request head not received within ${this.#ctx.config.headerTimeoutMs} ms`));
    }
  }

  #clearHeaderTimer(): void {
    this.#ctx.clocks.head.disarm(this.#headDeadline);
  }

  #bodyTimeout(): void {
    this.#bodyTimer = null;
    if (this.#closed || this.#reqPhase !== R_BODY) return;
    const ms = this.#ctx.config.bodyTimeoutMs;
    const left = this.#p!.bodyLastAt + ms - performance.now();
    if (left > 1 || this.#clientPauses !== 0) {
      this.#bodyTimer = setTimeout(HttpExchange.#onBodyTimeout, this.#clientPauses !== 0 ? ms : left, this);
      return;
    }
    this.#fail(new BodyTimeoutError(`request body stalled for ${ms} ms`));
  }

  #clearBodyTimer(): void {
    if (this.#bodyTimer !== null) clearTimeout(this.#bodyTimer);
    this.#bodyTimer = null;
  }

  // ---- the policy hold's decisions (only with a gate) -----------------------------

  #gateContext(): GateContext {
    const session = this.#session;
    return { proxySession: session.id, mcpSession: this.#req!.mcpSessionId, clientIp: session.clientIp, subject: session.subject, claims: session.claims, log: this.#obs.log };
  }

  /** The whole body came with the head: a request the gate lets go is not held at all and streams as if no gate were there. */
  #judgeEarly(held: PolicyHold, body: Buffer): void {
    const j = held.judgeEarly(body, this.#gateContext());
    if (j === null) return;
    this.#held = null;
    if (j.type === 'rewrite') this.#armFilter(j.verdict, j.idJson);
  }

  /** The held request is complete: do what the gate says. It stays held through a delay. */
  #judge(held: PolicyHold): void {
    const j = held.judge(this.#gateContext());
    switch (j.type) {
      case 'forward': return this.#release();
      case 'rewrite':
        this.#armFilter(j.verdict, j.idJson);
        return this.#release();
      case 'delay':
        this.#delayTimer = setTimeout(HttpExchange.#onDelayed, j.ms, this);
        return;
      case 'answer': return this.#answer(j.body);
      case 'refuse': return this.#fail(new PolicyUnreadableError(j.why));
    }
  }

  #armFilter(verdict: RewriteVerdict, idJson: string): void {
    this.#filter = new ResponseFilter(verdict, idJson, this.#ctx.config.inspectLimitBytes, (buf) => this.#writeClient(buf));
  }

  /** Sends the held (or recovered) request on: its gathered head and body go upstream as one write. */
  #release(): void {
    this.#held = null;
    if (this.#link.socket === null) this.#acquireUpstream(false);
    else this.#flushQueued();
    if (this.#link.engaged) this.#armResponseTimer();
  }

  /** Answers the held request ourselves; the upstream never sees it. */
  #answer(body: Buffer | null): void {
    const req = this.#req!;
    this.#held = null;
    this.#outQueue = null;
    this.#queuedBytes = 0;
    const status = body === null ? 202 : 200;
    this.#resStatus = status;
    this.#resStarted = true;
    this.#writeClient(policyAnswer(body, this.#cors, this.#connectionLine(req)));
    if (body !== null) this.#obs.onAnswer(body);
    this.#obs.onResponseEnd(req, status, performance.now() - this.#p!.startedAt);
    this.#endExchange();
  }

  /** Decides whether the connection closes after an answer of the proxy's own, and says so to the client. */
  #connectionLine(req: RequestHead): string {
    if (req.wantsClose || this.#ctx.isDraining() || this.#session.state !== 'open') this.#closeAfter = true;
    return this.#closeAfter ? 'Connection: close\r\n' : req.versionMinor === 0 ? 'Connection: keep-alive\r\n' : '';
  }

  /** The filtered response ended: send what is left; false when it could not be rewritten (the session was closed). */
  #finishFilter(filter: ResponseFilter): boolean {
    const rest = filter.finish();
    if (rest === null) {
      this.#fail(new PolicyUnreadableError(`the response could not be filtered: ${filter.failed}`));
      return false;
    }
    if (filter.kind === FILTER_JSON) {
      const res = filter.head!;
      const head = buildReframedResponseHead(res, this.#ctx.rewrite, this.#closeAfter, this.#req!.versionMinor === 0, `Content-Length: ${rest.length}\r\n`, this.#clientSessionId(res), this.#cors);
      this.#writeClient(Buffer.concat([head, rest]));
    } else if (rest.length > 0) {
      this.#writeClient(rest);
    }
    return true;
  }

  // ---- retries ------------------------------------------------------------------

  /** A reused link closed before a byte of answer: the request may be sent again (request-retry.ts). */
  #resendable(): boolean {
    return this.#reqPhase === R_DONE && this.#resPhase === S_WAIT && !this.#resStarted && !this.#p!.resHead.pending && this.#p!.retry.canResend();
  }

  /** Sends the request again, once, on a fresh connection. */
  #resend(): void {
    const head = this.#p!.retry.takeResend();
    this.#link.letGo(false);
    this.#obs.log().debug({ method: this.#req?.method, path: this.#req?.target }, 'a reused upstream connection closed before answering: request sent again on a fresh one');
    this.#outQueue = [head];
    this.#queuedBytes = head.length;
    this.#acquireUpstream(true);
  }

  /** The upstream forgot the session: hold its answer, re-run the handshake, then re-send or pass the answer down. */
  #recoverSession(req: RequestHead, notFound: ResponseHead, notFoundBody: Buffer): void {
    const body = this.#p!.retry.takeBody();
    this.#obs.onForgottenSession(req, notFound);
    this.#clearResponseTimer();
    // The 404 was whole and alone; the retry takes a fresh link (a shared one goes back first).
    this.#link.letGo(false);
    this.#p!.resFramer.next();
    this.#p!.resFramer.expectNoBody(req.method === 'HEAD');
    this.#ctx.recovery!.recover(req.mcpSessionId!, this.#obs.log()).then((newId) => {
      if (this.#closed) return;
      if (newId === null) return this.#passNotFound(req, notFound, notFoundBody);
      const head = buildUpstreamRequestHead(req, this.#ctx.rewrite, this.#session.clientIp, body, newId);
      this.#outQueue = [head];
      this.#queuedBytes = head.length;
      this.#release();
    }, (err: unknown) => this.#fail(err));
  }

  /** A recovery failed: the client gets the upstream's 404 (or 400) as it was. */
  #passNotFound(req: RequestHead, res: ResponseHead, body: Buffer): void {
    if (req.wantsClose || this.#ctx.isDraining() || this.#session.state !== 'open') this.#closeAfter = true;
    this.#resStatus = res.statusCode;
    this.#resStarted = true;
    this.#obs.onResponseHead(req, res);
    this.#writeClient(buildClientResponseHead(res, this.#ctx.rewrite, this.#closeAfter, req.versionMinor === 0, body.length > 0 ? body : null));
    this.#obs.onResponseEnd(req, res.statusCode, performance.now() - this.#p!.startedAt);
    this.#endExchange();
  }

  // ---- upstream side --------------------------------------------------------------

  /** `own`: a connection of this request's own (single-session, a body too large to gather). */
  #acquireUpstream(own: boolean): void {
    // Hold client bytes until the link comes, unless it came at once (a pause and resume
    // of the client socket costs a tick).
    if (!this.#closed && this.#link.acquire(own)) this.#pauseClient(P_UPSTREAM);
  }

  /** LinkOwner: the upstream socket is bound; what waited for it goes out. */
  linkReady(socket: net.Socket, dialed: boolean): void {
    this.#p!.retry.reusedLink = !dialed;
    if (dialed) this.#obs.onUpstreamConnected(socket);
    this.#flushQueued();
    if (this.#reqPhase === R_DONE) this.#armResponseTimer();
    this.#resumeClient(P_UPSTREAM);
  }

  /** LinkOwner: no upstream socket could be had. */
  linkFailed(err: ProxyError | null): void {
    this.#obs.onUpstreamError(dialFailureKind(err), err);
    this.#fail(err ?? new UpstreamBrokenError('no upstream connection'));
  }

  /** What the request gathered while it had no link goes upstream as one write. */
  #flushQueued(): void {
    const queued = this.#outQueue;
    if (queued === null) return;
    this.#outQueue = null;
    this.#queuedBytes = 0;
    if (!this.#link.writeAll(queued)) this.#pauseClient(P_BACKPRESSURE);
  }

  /** UpstreamHandler: the upstream socket took all we wrote. */
  upstreamDrain(): void {
    this.#resumeClient(P_BACKPRESSURE);
  }

  #armResponseTimer(): void {
    const parts = this.#p!;
    const d = parts.responseDeadline ??= new Deadline<HttpExchange>(this);
    if (d.at !== 0 || this.#resStarted) return;
    d.owner = this;
    this.#ctx.clocks.response.arm(d);
  }

  #clearResponseTimer(): void {
    const d = this.#p?.responseDeadline;
    if (d != null) this.#ctx.clocks.response.disarm(d);
  }

  #responseTimeout(): void {
    if (this.#resStarted || this.#closed) return;
    const err = new UpstreamTimeoutError(`upstream sent no response head within ${this.#ctx.config.upstreamTimeoutMs} ms`);
    this.#obs.onUpstreamError('timeout', err);
    this.#fail(err);
  }

  /** UpstreamHandler: bytes of the response. */
  upstreamData(chunk: Buffer): void {
    this.#ctx.touch(this.#session);
    // While a request is held nothing of it went upstream: the kept link is idle.
    if (this.#held !== null) this.#link.letGo(false);
    else if (this.#resPhase === S_BODY) {
      this.#consumeResponseBody(chunk);
      const stream = this.#stream;
      if (stream !== null && stream.draining && this.#resPhase === S_BODY && !this.#closed) this.#endStreamAtBoundary(stream);
    } else if (this.#resPhase === S_WAIT) {
      this.#consumeResponseHead(chunk);
      const stream = this.#stream;
      if (stream !== null && stream.watching && (this.#resPhase as number) === S_BODY && !this.#closed && this.#ctx.isDraining()) {
        // The stream opened while draining: it ends at once (it stands at its first boundary).
        stream.draining = true;
        this.#endStreamAtBoundary(stream);
      }
    }
    // Bytes on an idle keep-alive link would be misread as the next response: drop the link.
    else this.#link.letGo(false);
  }

  #consumeResponseHead(chunk: Buffer): void {
    const framer = this.#p!.resFramer;
    const reader = this.#p!.resHead;
    const req = this.#req!;
    // As a request head: read as a kept one, framed by llhttp unless it framed one like it already.
    let res: ResponseHead | null = reader.pending ? null : keptResponseHead(chunk, MAX_RESPONSE_HEAD_BYTES);
    let bodyStart: number;
    // Where the message ends in this read, or -1 when it goes on past it.
    let end: number;
    if (res !== null && framedBefore(res)) {
      // Framed as a head llhttp framed before (http/head.ts), its Content-Length body counted here.
      framer.framedAhead(framedKeepAlive(res));
      bodyStart = res.raw.length;
      end = req.method === 'HEAD' ? bodyStart : bodyStart + res.contentLength;
      if (end > chunk.length) end = -1;
    } else {
      // A large read carries the head and much of the body: llhttp gets its first part, and
      // the rest only if the head is longer or the body's framing needs llhttp (chunked,
      // close-delimited). A Content-Length body is counted here, as in later reads, instead
      // of being copied into wasm memory and walked there too.
      let seen = chunk.length > HEAD_PROBE_BYTES ? HEAD_PROBE_BYTES : chunk.length;
      let ret = framer.execute(seen === chunk.length ? chunk : view(chunk, 0, seen));
      let base = 0;
      if (ret === FRAME_MORE && seen < chunk.length && !framer.headComplete) {
        base = seen;
        seen = chunk.length;
        ret = framer.execute(view(chunk, base, chunk.length));
      }
      if (ret === FRAME_ERROR) {
        this.#upstreamFailed(new UpstreamBrokenError(`invalid response from upstream: ${framer.errorReason}`, framer.errorName), 'protocol');
        return;
      }
      if (!framer.headComplete) {
        if (reader.more(chunk) === HEAD_TOO_LARGE) this.#upstreamFailed(new UpstreamBrokenError('upstream response head too large'), 'protocol');
        return;
      }
      if (reader.complete(chunk) !== HEAD_DONE) {
        this.#upstreamFailed(new UpstreamBrokenError('upstream response head too large'), 'protocol');
        return;
      }
      bodyStart = reader.bodyStart;
      if (res === null) {
        try {
          res = readResponseHead(view(reader.all, 0, reader.end));
        } catch (err) {
          // obs-fold or a bad field name that this llhttp build let through: not ours to pass on.
          this.#upstreamFailed(new UpstreamBrokenError(`invalid response head from upstream: ${(err as Error).message}`, err), 'protocol');
          return;
        }
      }
      reader.reset();
      noteResponseFramed(res, framer.keepAlive);
      end = ret === FRAME_END ? base + framer.offset : -1;
      if (end === -1 && seen < chunk.length) {
        if (!res.chunked && res.contentLength >= 0) {
          if (bodyStart + res.contentLength <= chunk.length) end = bodyStart + res.contentLength;
        } else {
          const rest = framer.execute(view(chunk, seen, chunk.length));
          if (rest === FRAME_ERROR) {
            this.#upstreamFailed(new UpstreamBrokenError(`invalid response body from upstream: ${framer.errorReason}`, framer.errorName), 'protocol');
            return;
          }
          if (rest === FRAME_END) end = seen + framer.offset;
        }
      }
    }
    const status = res.statusCode;

    if (status < 200 && status !== 101) {
      // Interim response (100 Continue, 103): relay to HTTP/1.1 clients, then read on.
      if (req.versionMinor >= 1) this.#writeClient(buildClientResponseHead(res, this.#ctx.rewrite, false));
      const next = end === -1 ? chunk.length : end;
      framer.next();
      framer.expectNoBody(req.method === 'HEAD');
      if (next < chunk.length) this.#consumeResponseHead(view(chunk, next, chunk.length));
      return;
    }
    if (this.#ctx.recovery !== null) {
      const whole = end === chunk.length && this.#reqPhase === R_DONE;
      if (whole && this.#p!.retry.shouldRecover(req, status, view(chunk, bodyStart, end))) {
        this.#recoverSession(req, res, Buffer.from(view(chunk, bodyStart, end)));
        return;
      }
      if (status >= 200 && status < 300) this.#p!.retry.learn(req, res, this.#reqPhase === R_DONE);
    }
    this.#clearResponseTimer();
    if (status === 101) {
      if (req.upgrade === null) {
        this.#upstreamFailed(new UpstreamBrokenError('upstream switched protocols without an Upgrade request'), 'protocol');
        return;
      }
      this.#startTunnel(res, view(chunk, bodyStart, chunk.length));
      return;
    }

    const bodyless = req.method === 'HEAD' || status === 204 || status === 304;
    if (res.otherCoding && !bodyless) {
      this.#upstreamFailed(new UpstreamBrokenError('upstream sent a Transfer-Encoding other than chunked'), 'protocol');
      return;
    }
    const eventStream = isEventStream(res.contentType);
    const sseGet = req.method === 'GET' && status === 200 && !bodyless && eventStream;
    const stream = sseGet ? (this.#stream ??= new StreamDrain()) : this.#stream;
    if (stream !== null) stream.begin(sseGet);
    this.#resChunks = res.chunked && !bodyless ? new ChunkedFilter(this.#obs.wantsBodies || sseGet ? this.#responseData() : null) : null;
    const eofDelimited = !bodyless && !res.chunked && res.contentLength < 0;
    if (req.wantsClose || eofDelimited || this.#reqPhase !== R_DONE || this.#ctx.isDraining() || this.#session.state !== 'open') {
      this.#closeAfter = true;
    }
    const http10Client = req.versionMinor === 0;
    const filter = this.#filter;
    if (filter !== null) {
      const kind = bodyless ? FILTER_NONE : filter.start(res, http10Client);
      if (kind === FILTER_NONE) this.#filter = null;
      else {
        if (kind === FILTER_SSE) {
          // Events change length: the stream is re-framed (close-delimited for HTTP/1.0).
          if (http10Client) this.#closeAfter = true;
          this.#writeClient(buildReframedResponseHead(res, this.#ctx.rewrite, this.#closeAfter, http10Client, filter.framing, this.#clientSessionId(res), this.#cors));
        }
        if (res.chunked) this.#resChunks = new ChunkedFilter(this.#responseData());
      }
    }
    this.#resStatus = status;
    this.#resKeepAliveMs = res.keepAliveTimeoutMs;
    this.#resStarted = true;
    this.#resPhase = S_BODY;
    this.#obs.onResponseHead(req, res);
    // A response still streaming after its head never holds the shared link (docs/reference.md).
    if (end === -1 || eventStream) this.#link.keepForStream();
    const body = view(chunk, bodyStart, end === -1 ? chunk.length : end);
    if (end === -1 && !res.chunked && res.contentLength >= 0 && !bodyless) {
      this.#p!.resBody.expect(res.contentLength - body.length);
      expectRead(this.#link.socket!, res.contentLength - body.length);
    }
    this.#writeBody(body, res, http10Client);
    if (end !== -1) this.#finishResponse(end < chunk.length);
  }

  #consumeResponseBody(chunk: Buffer): void {
    const reader = this.#p!.resBody;
    const got = reader.read(chunk, this.#p!.resFramer);
    if (got === BODY_MORE) {
      if (reader.remaining >= 0) expectRead(this.#link.socket!, reader.remaining);
      return this.#writeBody(chunk);
    }
    if (got === BODY_ERROR) {
      this.#upstreamFailed(new UpstreamBrokenError(`invalid response body from upstream: ${this.#p!.resFramer.errorReason}`, this.#p!.resFramer.errorName), 'protocol');
      return;
    }
    if (reader.body.length > 0) this.#writeBody(reader.body);
    this.#finishResponse(reader.rest !== null);
  }

  /** Forwards response body bytes to the client, after the rewritten head of `res` when given. */
  #writeBody(input: Buffer, res: ResponseHead | null = null, http10Client = false): void {
    if (this.#filter !== null) return this.#filterBody(this.#filter, input);
    const chunks = this.#resChunks;
    const body = chunks === null || input.length === 0 ? input : chunks.push(input);
    if (body.length > 0 && chunks === null) {
      if (this.#obs.wantsBodies) this.#obs.onResponseBody(body);
      const stream = this.#stream;
      if (stream !== null && stream.watching) stream.track(body);
    }
    if (res === null) {
      if (body.length > 0) this.#writeClient(body);
      return;
    }
    const join = body.length < JOIN_BELOW_BYTES;
    const head = buildClientResponseHead(res, this.#ctx.rewrite, this.#closeAfter, http10Client, join && body.length > 0 ? body : null, this.#clientSessionId(res), this.#cors);
    if (join) return this.#writeClient(head);
    // A large first chunk is not copied behind the head; corked, the two still leave in one
    // writev, so the client gets one segment where two writes would cost two.
    const client = this.#client;
    client.cork();
    this.#writeClient(head);
    this.#writeClient(body);
    client.uncork();
  }

  /** Response body bytes of a response being rewritten: fed to the filter, which writes what it may. */
  #filterBody(filter: ResponseFilter, input: Buffer): void {
    if (input.length === 0) return;
    const chunks = this.#resChunks;
    if (chunks !== null) chunks.push(input);
    else {
      filter.push(input);
      if (this.#obs.wantsBodies) this.#obs.onResponseBody(input);
    }
    if (filter.failed !== null) this.#fail(new PolicyUnreadableError(`the response could not be filtered: ${filter.failed}`));
  }

  #writeClient(buf: Buffer): void {
    this.#session.bytesOut += buf.length;
    if (!this.#client.write(buf)) this.#link.pause();
  }

  /** The response ended; `trailingBytes` means the upstream sent more than one response. */
  #finishResponse(trailingBytes: boolean): void {
    if (this.#closed) return;
    const filter = this.#filter;
    if (filter !== null) {
      this.#filter = null;
      if (!this.#finishFilter(filter)) return;
    }
    this.#clearResponseTimer();
    const clean = !trailingBytes && this.#reqPhase === R_DONE && this.#p!.resFramer.keepAlive;
    const keepAliveMs = this.#resKeepAliveMs;
    const now = performance.now();
    this.#link.finish(clean, keepAliveMs < 0 ? Infinity : now + Math.max(0, keepAliveMs - KEEP_ALIVE_MARGIN_MS));
    this.#obs.onResponseEnd(this.#req, this.#resStatus, now - this.#p!.startedAt);
    this.#endExchange(now);
  }

  /** Resets for the next request, or closes when this exchange was the last; `now` (performance.now()) when the caller has it. */
  #endExchange(now = -1): void {
    const closeAtOnce = this.#req !== null && this.#req.wantsClose && this.#reqPhase === R_DONE && this.#leftover === null;
    this.#stream?.end();
    this.#filter = null;
    this.#resPhase = S_IDLE;
    this.#p!.reqBody.reset();
    this.#p!.resBody.reset();
    this.#resStatus = 0;
    this.#resStarted = false;
    this.#req = null;
    if (this.#closeAfter || this.#session.state !== 'open') {
      if (closeAtOnce && this.#client.writableLength === 0) {
        // The client said this was its last request, sent all of it and nothing after, and
        // the answer is in the kernel: close() sends it and a FIN, as nginx does. Lingering
        // (shutdown, wait for the client's FIN) guards against unread bytes turning the
        // close into a reset; there are none to guard against here.
        this.#session.close('done');
        return;
      }
      this.#pauseClient(P_CLOSING);
      this.#leftover = null;
      // The socket closes itself once flushed; the session ends now so shutdown sees it gone.
      this.#handOffClient();
      endAndLinger(this.#client, null);
      this.#session.close('done');
      return;
    }
    const parts = this.#p!;
    parts.reqFramer.next();
    parts.resFramer.next();
    this.#reqPhase = R_HEAD;
    this.#resumeClient(P_RESPONSE);
    // Idle between requests: the framers and readers go back to the app's pool.
    if (this.#p === parts && this.#reqPhase === R_HEAD && this.#resPhase === S_IDLE && this.#clientPauses === 0 && this.#leftover === null && !parts.reqHead.pending && !this.#closed) {
      this.#clearResponseTimer();
      this.#p = null;
      this.#ctx.parts.give(parts);
      this.#ctx.clocks.idle.arm(this.#idleDeadline ??= new Deadline<HttpExchange>(this), now);
    }
  }

  /**
   * IDLE_SHED_MS after the exchange last went idle: if it still is, the connection keeps
   * its session and socket and lets this exchange go (IdleClient). A request under way
   * (a head begun, a body, a response) keeps it; its end arms the deadline again. A kept
   * upstream link of the session's own keeps it too, until the link goes (#dropKeptLink).
   */
  #idleExpired(): void {
    if (this.#closed || this.#p !== null || this.#reqPhase !== R_HEAD || this.#resPhase !== S_IDLE || this.#clientPauses !== 0 ||
      this.#leftover !== null || this.#delayTimer !== null || this.#tunnel !== null || this.#lingering || this.#closeAfter ||
      this.#session.state !== 'open' || this.#link.socket !== null) return;
    this.#closed = true;
    this.#clearHeaderTimer();
    this.#clearBodyTimer();
    this.#policy?.reset();
    this.#link.close(true);
    new IdleClient(this.#ctx, this.#session, this.#client);
    this.#ctx.shed();
  }

  /** The upstream closed or broke the link kept between requests (or held under a policy): it is forgotten quietly; an idle exchange may now be shed in its time. */
  #dropKeptLink(): void {
    this.#link.letGo(false);
    if (this.#p === null && this.#idleDeadline !== null) this.#ctx.clocks.idle.arm(this.#idleDeadline);
  }

  // A final answer may still be flushing: from here endAndLinger() owns the client socket.
  #handOffClient(): void {
    this.#lingering = true;
    unbindClient(this.#client);
  }

  /** UpstreamHandler: the upstream closed its side. */
  upstreamEnd(): void {
    if (this.#closed) return;
    // A kept link that fails or closes while idle is forgotten quietly.
    if (this.#resPhase === S_IDLE || this.#held !== null) return this.#dropKeptLink();
    if (this.#resPhase === S_BODY && this.#p!.resFramer.finish()) {
      // A body delimited by the connection closing has ended.
      this.#finishResponse(false);
      return;
    }
    this.#upstreamFailed(new UpstreamBrokenError(this.#resStarted
      ? 'upstream closed the connection mid-response'
      : 'upstream closed the connection before responding'), 'reset');
  }

  /** UpstreamHandler: the upstream socket failed. */
  upstreamError(err: NodeJS.ErrnoException): void {
    if (this.#closed) return;
    if (this.#resPhase === S_IDLE || this.#held !== null) return this.#dropKeptLink();
    this.#upstreamFailed(upstreamSocketError(err), 'reset');
  }

  /** UpstreamHandler: the upstream socket closed. */
  upstreamClose(): void {
    if (this.#closed || this.#link.socket === null) return;
    if (this.#resPhase === S_IDLE || this.#held !== null) return this.#dropKeptLink();
    this.#upstreamFailed(new UpstreamBrokenError('upstream connection closed'), 'reset');
  }

  #upstreamFailed(err: ProxyError, kind: string): void {
    if (this.#closed) return;
    if (kind === 'reset' && this.#resendable()) return this.#resend();
    this.#obs.onUpstreamError(kind, err);
    this.#fail(err);
  }

  // ---- upgrade --------------------------------------------------------------------

  #startTunnel(res: ResponseHead, upstreamRest: Buffer): void {
    // The tunnel's own listeners take over.
    const upstream = this.#link.takeForTunnel();
    this.#resPhase = S_TUNNEL;
    this.#resStatus = 101;
    this.#obs.onResponseHead(this.#req!, res);
    this.#obs.onResponseEnd(this.#req, 101, performance.now() - this.#p!.startedAt);
    const client = this.#client;
    unbindClient(client);
    this.#session.state = 'upgraded';
    client.write(buildClientResponseHead(res, this.#ctx.rewrite, false));
    if (upstreamRest.length > 0) client.write(upstreamRest);
    const leftover = this.#leftover;
    this.#leftover = null;
    if (leftover !== null) upstream.write(leftover);
    this.#clientPauses = 0;
    this.#tunnel = pipeSession(this.#session, client, upstream, this.#ctx.touch);
  }

  // ---- failure --------------------------------------------------------------------

  /** Answers the request with `answer` itself and closes the connection (a CORS preflight, the RFC 9728 document). */
  #answerAndClose(answer: Buffer, status: number): void {
    const session = this.#session;
    this.#obs.onResponseEnd(this.#req, status, 0);
    this.#pauseClient(P_CLOSING);
    this.#handOffClient();
    session.bytesOut += answer.length;
    endAndLinger(this.#client, answer);
    session.close('done');
  }

  /** Answers with the error's status when nothing was sent yet, then ends the session. */
  #fail(err: unknown): void {
    if (this.#closed) return;
    const status = statusFor(err);
    if (this.#resStarted || this.#resPhase === S_TUNNEL) {
      // Part of a response is already out: closing the connection is the only signal left.
      this.#session.close(err instanceof ProxyError && err.side === 'upstream' ? 'upstream-error' : 'error', err);
      return;
    }
    const idJson = this.#failIdJson ?? (this.#req === null ? null : this.#obs.requestIdJson());
    this.#obs.onResponseEnd(this.#req, status, this.#req === null || this.#p === null ? 0 : performance.now() - this.#p.startedAt);
    const session = this.#session;
    this.#pauseClient(P_CLOSING);
    this.#handOffClient();
    // An allowed browser reads its error too (a 401's WWW-Authenticate starts its OAuth flow).
    const answer = errorResponse(err, true, idJson, this.#cors);
    session.bytesOut += answer.length;
    endAndLinger(this.#client, answer);
    session.close(err instanceof ProxyError && err.side === 'upstream' ? 'upstream-error' : 'error', err);
  }
}
