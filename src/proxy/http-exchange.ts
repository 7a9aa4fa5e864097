// One client connection's L7 corridor: client bytes are framed by llhttp, the head is
// rewritten and sent upstream, body bytes are written through as they arrive, and the
// response comes back the same way. One request is in flight at a time; pipelined bytes
// wait (bounded by one read) until the current response ends. Phases, in order:
//   head → onRequestHead → body → onRequestEnd → response head → onResponseHead →
//   response body → onResponseEnd → (next request | close | tunnel after 101)

import type net from 'node:net';
import type { Config } from '../config.js';
import {
  BadRequestError, BodyTimeoutError, BodyTooLargeError, HeaderTimeoutError, HeadTooLargeError, PolicyTooLargeError,
  PolicyUnreadableError, ProxyError, RateLimitedError, UnsupportedTransferCodingError, UpstreamBrokenError, UpstreamTimeoutError,
} from '../errors.js';
import type { Identity } from '../session/identity.js';
import type { InboundAuth } from '../policy/inbound-auth.js';
import { bodyCodingProblem } from '../http/body-coding.js';
import { ChunkedFilter } from '../http/chunked-filter.js';
import { errorResponse, statusFor } from '../http/error-response.js';
import { createFramer, FRAME_END, FRAME_ERROR } from '../http/framer.js';
import {
  buildClientResponseHead, buildReframedResponseHead, buildUpstreamRequestHead, findHeadEnd, leadingEmptyLines, readRequestHead,
  readResponseHead, type RequestHead, type RequestRewrite, type ResponseHead,
} from '../http/head.js';
import type { Judgement, MessageGate } from '../mcp/gate.js';
import { BodyCollector } from '../http/body-collector.js';
import { isJson } from '../http/media-type.js';
import type { RewriteVerdict } from '../mcp/message.js';
import { JsonBodyRewrite, SseRewrite, type ResponseTransform } from '../mcp/result-rewrite.js';
import { CallEnvelope, ENVELOPE_OK, readCallEnvelope } from '../mcp/envelope.js';
import { requestIdOf } from '../mcp/request-id.js';
import { isForgottenSession, REPLAYED_METHODS, type SessionRecovery } from '../mcp/session-recovery.js';
import type { Session, SessionOwner, CloseReason } from '../session/session.js';
import { dialFailureKind, upstreamSocketError } from '../upstream/connect.js';
import { routeUpstream, unrouteUpstream, type UpstreamHandler } from '../upstream/upstream-events.js';
import type { UpstreamSource } from '../upstream/upstream-source.js';
import type { ExchangeObserver } from './exchange-observer.js';
import { Deadline, DeadlineQueue } from './deadline-queue.js';
import { endAndLinger } from './linger.js';
import { pipeSession, type RawPipe } from './raw-pipe.js';

/** Largest response head we accept from an upstream. */
const MAX_RESPONSE_HEAD_BYTES = 65536;
/** Below this a head and its body go out in one write (one syscall, no writev). */
const JOIN_BELOW_BYTES = 16384;

/** True when a head and this body should go out as one buffer. */
function joinable(body: Buffer): boolean {
  return body.length < JOIN_BELOW_BYTES;
}
/** Writes `bufs` in order (one syscall for several: corked); false when the socket asks us to wait for 'drain'. */
function writeAll(socket: net.Socket, bufs: readonly Buffer[]): boolean {
  // One buffer, the usual case (a head with its body), needs no cork: that would queue it
  // in the stream only to take it out again on uncork.
  if (bufs.length === 1) return socket.write(bufs[0]!);
  let ok = true;
  socket.cork();
  for (const buf of bufs) ok = socket.write(buf);
  socket.uncork();
  return ok;
}
/** A kept upstream link is retired this long before the upstream's announced keep-alive timeout. */
const KEEP_ALIVE_MARGIN_MS = 1000;
/** Single-session: a request body up to this size is gathered before the request takes the shared link. */
const GATHER_LIMIT_BYTES = 1 << 20;
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

// Request phases.
const R_HEAD = 0;
const R_BODY = 1;
const R_DONE = 2;
/** Methods a request may be sent twice with (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT', 'TRACE']);
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

/** Tags a socket with the exchange that listens on it. */
const EXCHANGE = Symbol('shadowcat.exchange');
type Tagged = net.Socket & { [EXCHANGE]?: HttpExchange };

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
  /** The deciders' gate; null when none is loaded (then nothing is ever held). */
  readonly gate: MessageGate | null;
  /** --recover-sessions: the sessions that can be re-established upstream, or null. */
  readonly recovery: SessionRecovery | null;
  /** From HttpExchange.clocks(): closed with the app. */
  readonly clocks: ExchangeClocks;
}

/** The deadline queues an app's exchanges share. */
export interface ExchangeClocks {
  readonly head: DeadlineQueue<HttpExchange>;
  readonly response: DeadlineQueue<HttpExchange>;
}

const CHUNKED_END = Buffer.from('0\r\n\r\n', 'latin1');
/** What a CORS preflight answer allows, besides the origin. */
const PREFLIGHT_LINES = 'Access-Control-Allow-Methods: GET, POST, DELETE, OPTIONS\r\n'
  + 'Access-Control-Allow-Headers: Content-Type, Accept, Authorization, X-API-Key, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID\r\n'
  + 'Access-Control-Max-Age: 600\r\n';
/** What ends a drained GET event stream: reconnect after a second. */
const SSE_RETRY = 'retry: 1000\n\n';
/** The tail of a stream that has sent nothing yet: a boundary. */
const SSE_START = 0x0a0a;

/** True when an event stream whose last bytes are `tail` stands between events. */
function atSseBoundary(tail: number): boolean {
  const two = tail & 0xffff;
  return two === 0x0a0a || two === 0x0d0d || (tail & 0xffffff) === 0x0a0d0a || tail === 0x0d0a0d0a;
}

/** The L7 handler of one client connection; owned by its Session. */
export class HttpExchange implements SessionOwner, UpstreamHandler {
  // Client socket listeners are shared by every exchange (no closures per session): each
  // finds its exchange through the tag on the socket it fires on. An untagged socket is
  // ignored rather than trusted. Upstream sockets route theirs (upstream-events.ts).
  static #onClientData(this: net.Socket, chunk: Buffer): void {
    const ex = (this as Tagged)[EXCHANGE];
    if (ex !== undefined) ex.#clientData(chunk);
  }

  static #onClientDrain(this: net.Socket): void {
    const ex = (this as Tagged)[EXCHANGE];
    if (ex !== undefined) ex.#clientDrain();
  }

  static #onClientEnd(this: net.Socket): void {
    const ex = (this as Tagged)[EXCHANGE];
    if (ex !== undefined) ex.#clientEnd();
  }

  static #onClientError(this: net.Socket, err: Error): void {
    const ex = (this as Tagged)[EXCHANGE];
    if (ex !== undefined) ex.#clientError(err);
  }

  static #onClientClose(this: net.Socket): void {
    const ex = (this as Tagged)[EXCHANGE];
    if (ex !== undefined) ex.#clientClose();
  }

  /** The request-head and response-head deadlines every exchange of an app shares. */
  static clocks(config: Config): ExchangeClocks {
    return {
      head: new DeadlineQueue<HttpExchange>(config.headerTimeoutMs, (ex) => ex.#headerTimeout()),
      response: new DeadlineQueue<HttpExchange>(config.upstreamTimeoutMs, (ex) => ex.#responseTimeout()),
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
  readonly #source: UpstreamSource;
  readonly #obs: ExchangeObserver;
  /** The source is this session's alone (multi-session): teardown closes it. */
  readonly #ownsSource: boolean;
  readonly #reqFramer = createFramer('request');
  readonly #resFramer = createFramer('response');

  #reqPhase = R_HEAD;
  #headBuf: Buffer | null = null;
  #req: RequestHead | null = null;
  #reqBodyBytes = 0;
  // Body bytes still due on a Content-Length message, counted here instead of by llhttp
  // (no copy into wasm memory per chunk); -1 when llhttp frames the body (chunked, EOF).
  #reqRemaining = -1;
  #resRemaining = -1;
  #leftover: Buffer | null = null;
  #outQueue: Buffer[] | null = null;
  /** Bytes in #outQueue: what a request gathered while it has no upstream yet. */
  #queuedBytes = 0;
  // Chunked messages lose their extensions and trailers on the way (http/chunked-filter.ts);
  // null while the message in that direction is not chunked.
  #reqChunks: ChunkedFilter | null = null;
  #resChunks: ChunkedFilter | null = null;
  readonly #onRequestData = (data: Buffer): void => {
    if (this.#held !== null) this.#held.push(data, this.#ctx.config.inspectLimitBytes);
    if (this.#obs.wantsBodies) this.#obs.onRequestBody(data);
  };
  readonly #onResponseData = (data: Buffer): void => {
    if (this.#sseGet) this.#trackSse(data);
    if (this.#resTransform !== null) this.#resTransform.push(data);
    if (this.#obs.wantsBodies) this.#obs.onResponseBody(data);
  };
  // The hold phase (only with a gate): the request's body is gathered before anything goes
  // upstream, then forwarded, answered, delayed or refused; a response may be rewritten.
  #held: BodyCollector | null = null;
  #delayTimer: NodeJS.Timeout | null = null;
  #rewrite: RewriteVerdict | null = null;
  #rewriteId = '';
  /** The judgement of a body that came whole with its head, kept for #judge when it holds the request. */
  #preJudged: Judgement | null = null;
  /** The id of a request refused before its body reached the observer (read from the bytes at hand), for its error answer. */
  #failIdJson: string | null = null;
  #resTransform: ResponseTransform | null = null;
  #resTransformChunked = false;
  #transformHead: ResponseHead | null = null;
  // Cooperative drain (docs/reference.md "MCP-aware resilience"): a GET event stream carries no
  // responses, so on shutdown it is ended at an event boundary after a `retry:` field and
  // the client reconnects at once (to another replica behind a balancer).
  /** The response is an event stream answering a GET. */
  #sseGet = false;
  /** The last four bytes of its data, newest lowest: whether it stands at an event boundary. */
  #sseTail = SSE_START;
  /** Shutdown asked for the stream to end at its next event boundary. */
  #drainStream = false;
  // --recover-sessions: a copy of the request's body (Content-Length bodies only, bounded by
  // --inspect-limit) to learn a session's handshake from and to re-send after a recovery.
  #reqCopy: BodyCollector | null = null;
  /** This request was already re-sent once after a recovery. */
  #retried = false;
  // A request that provably never reached the upstream may be sent again, once: idempotent,
  // bodyless, on a link that was reused and closed before a byte of answer came.
  #resendHead: Buffer | null = null;
  #resent = false;
  #reusedLink = false;

  #upstream: net.Socket | null = null;
  /** performance.now() after which the kept (idle) upstream link must not be reused. */
  #upstreamReuseUntil = Infinity;
  #acquiring = false;
  /** The upstream being acquired is a connection of this request's own, not the shared link. */
  #acquiringOwn = false;
  #detached = false;
  #resPhase = S_IDLE;
  #resHeadBuf: Buffer | null = null;
  #resStatus = 0;
  #resKeepAliveMs = -1;
  #resStarted = false;
  #closeAfter = false;
  /** --cors lines for this request's answer (a browser's allowed Origin), or null. */
  #cors: string | null = null;
  #startedAt = 0;

  // Links in the app's shared deadline queues (ctx.clocks): no Timeout per connection.
  readonly #headDeadline = new Deadline<HttpExchange>(this);
  readonly #responseDeadline = new Deadline<HttpExchange>(this);
  // The body deadline is a number checked by one lazily armed timer: a chunk only records
  // when it came, so a body costs no setTimeout/clearTimeout pair per chunk.
  #bodyTimer: NodeJS.Timeout | null = null;
  #bodyLastAt = 0;
  #clientPauses = 0;
  #upstreamPaused = false;
  #closed = false;
  /** The client socket was handed to endAndLinger(): teardown must not destroy it. */
  #lingering = false;
  #tunnel: RawPipe | null = null;

  constructor(ctx: ExchangeContext, session: Session, client: net.Socket, source: UpstreamSource, obs: ExchangeObserver, ownsSource: boolean) {
    this.#ctx = ctx;
    this.#ownsSource = ownsSource;
    this.#session = session;
    this.#client = client;
    this.#source = source;
    this.#obs = obs;
    (client as Tagged)[EXCHANGE] = this;
    client.on('data', HttpExchange.#onClientData);
    client.on('end', HttpExchange.#onClientEnd);
    client.on('error', HttpExchange.#onClientError);
    client.on('close', HttpExchange.#onClientClose);
    client.on('drain', HttpExchange.#onClientDrain);
    ctx.clocks.head.arm(this.#headDeadline);
  }

  // ---- SessionOwner -------------------------------------------------------------

  /** Finishes the request in flight, then closes; closes at once when idle. */
  drain(): void {
    if (this.#closed) return;
    // A request whose token is being verified is in flight: it is answered, then the connection closes.
    if (this.#resPhase === S_IDLE && this.#reqPhase === R_HEAD && this.#headBuf === null && this.#leftover === null && (this.#clientPauses & P_AUTH) === 0) {
      this.#session.close('shutdown');
      return;
    }
    this.#closeAfter = true;
    if (this.#sseGet && this.#resPhase === S_BODY) {
      this.#drainStream = true;
      this.#endStreamAtBoundary();
    }
  }

  #trackSse(data: Buffer): void {
    let tail = this.#sseTail;
    for (let i = Math.max(0, data.length - 4); i < data.length; i++) tail = ((tail << 8) | data[i]!) >>> 0;
    this.#sseTail = tail;
  }

  /** Ends a draining GET event stream if it stands between events (and between chunks). */
  #endStreamAtBoundary(): void {
    const chunks = this.#resChunks;
    if (!atSseBoundary(this.#sseTail) || (chunks !== null && !chunks.atChunkStart)) return;
    let last: Buffer | null;
    if (chunks !== null) last = Buffer.from(`${SSE_RETRY.length.toString(16)}\r\n${SSE_RETRY}\r\n0\r\n\r\n`, 'latin1');
    else if (this.#resRemaining >= 0) last = null; // a length-delimited stream has no room for more
    else last = Buffer.from(SSE_RETRY, 'latin1');
    // The upstream's stream is abandoned: its server sees the connection close.
    this.#letGoUpstream(false);
    this.#obs.onResponseEnd(this.#req, this.#resStatus, performance.now() - this.#startedAt);
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
    this.#clearBodyTimer();
    if (this.#delayTimer !== null) clearTimeout(this.#delayTimer);
    this.#delayTimer = null;
    this.#held = null;
    this.#resTransform = null;
    if (this.#acquiring) this.#source.cancel(this.#onUpstreamReady);
    this.#acquiring = false;
    // A kept link between requests is clean: a pool takes it back (others destroy it).
    this.#letGoUpstream(this.#resPhase === S_IDLE && this.#held === null);
    if (this.#ownsSource) this.#source.close();
    this.#tunnel?.destroy();
    this.#tunnel = null;
    if (!this.#lingering) {
      this.#client.removeListener('data', HttpExchange.#onClientData);
      this.#client.destroy();
    }
    this.#reqFramer.destroy();
    this.#resFramer.destroy();
    this.#outQueue = null;
    this.#queuedBytes = 0;
    this.#leftover = null;
    this.#headBuf = null;
    this.#resHeadBuf = null;
  }

  // ---- client side --------------------------------------------------------------

  #clientData(chunk: Buffer): void {
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
          this.#hold(chunk, P_RESPONSE);
          return;
        }
        chunk = this.#consumeHead(chunk);
      } else if (this.#reqPhase === R_BODY) {
        chunk = this.#consumeBody(chunk);
      } else {
        // A pipelined request (or tunnel bytes after an Upgrade): wait for the response.
        this.#hold(chunk, P_RESPONSE);
        return;
      }
    }
  }

  #hold(chunk: Buffer, reason: number): void {
    this.#leftover = this.#leftover === null ? chunk : Buffer.concat([chunk, this.#leftover]);
    this.#pauseClient(reason);
  }

  #consumeHead(chunk: Buffer): Buffer | null {
    const framer = this.#reqFramer;
    const ret = framer.execute(chunk);
    if (ret === FRAME_ERROR) {
      this.#fail(framer.errorName === 'HPE_INVALID_TRANSFER_ENCODING'
        ? new UnsupportedTransferCodingError()
        : new BadRequestError(`malformed request: ${framer.errorReason}`, framer.errorName));
      return null;
    }
    const maxHead = this.#ctx.config.maxHeaderBytes;
    if (!framer.headComplete) {
      const buf = this.#headBuf === null ? chunk : Buffer.concat([this.#headBuf, chunk]);
      if (buf.length - leadingEmptyLines(buf) > maxHead) {
        this.#fail(new HeadTooLargeError(`request head larger than ${maxHead} bytes`));
        return null;
      }
      this.#headBuf = buf;
      if (this.#headDeadline.at === 0) this.#ctx.clocks.head.arm(this.#headDeadline);
      return null;
    }

    const prev = this.#headBuf === null ? 0 : this.#headBuf.length;
    const all = this.#headBuf === null ? chunk : Buffer.concat([this.#headBuf, chunk]);
    this.#headBuf = null;
    const skip = leadingEmptyLines(all);
    const headEnd = findHeadEnd(all, Math.max(skip, prev - 3));
    if (headEnd === -1) {
      this.#fail(new BadRequestError('request head without an end'));
      return null;
    }
    if (headEnd - skip > maxHead) {
      this.#fail(new HeadTooLargeError(`request head larger than ${maxHead} bytes`));
      return null;
    }
    let req: RequestHead;
    try {
      req = readRequestHead(all.subarray(skip, headEnd));
    } catch (err) {
      this.#fail(err);
      return null;
    }
    if (req.method === 'CONNECT') {
      this.#fail(new BadRequestError('CONNECT is not supported: shadowcat forwards to its configured upstream'));
      return null;
    }
    // Not the last request's: a refusal below must not carry another origin's CORS lines.
    this.#cors = null;
    const refused = this.#ctx.admitOrigin(req.host, req.origin, this.#session.clientIp);
    if (refused !== null) {
      this.#req = req;
      this.#fail(refused);
      return null;
    }
    this.#cors = req.origin === null ? null : this.#ctx.corsLines(req.origin);
    if (this.#cors !== null && req.method === 'OPTIONS') {
      // A CORS preflight is the proxy's to answer: the upstream never sees it.
      this.#req = req;
      this.#answerAndClose(Buffer.from(`HTTP/1.1 204 No Content\r\n${this.#cors}${PREFLIGHT_LINES}Content-Length: 0\r\nConnection: close\r\n\r\n`, 'latin1'), 204);
      return null;
    }
    const auth = this.#ctx.auth;
    if (auth !== null) {
      this.#req = req;
      if (req.method === 'GET' && auth.isMetadataPath(req.target)) {
        const doc = auth.metadata(req.host);
        this.#answerAndClose(Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(doc)}\r\n${this.#cors ?? ''}Connection: close\r\n\r\n${doc}`, 'latin1'), 200);
        return null;
      }
      const who = auth.authenticate(req.authorization, req.apiKey, req.host, this.#session.clientIp);
      if (who instanceof Promise) {
        // A token seen for the first time: the client waits (paused) while it is verified.
        this.#pauseClient(P_AUTH);
        void who.then((w) => this.#authSettled(w, req, chunk, headEnd, prev, ret));
        return null;
      }
      const refused = who instanceof ProxyError ? who : this.#ctx.identify(this.#session, who);
      if (refused !== null) {
        this.#fail(refused);
        return null;
      }
    }
    return this.#admitHead(req, chunk, headEnd, prev, ret);
  }

  /** A verified (or refused) credential: the request goes on where it stopped, then what came meanwhile. */
  #authSettled(who: Identity | ProxyError, req: RequestHead, chunk: Buffer, headEnd: number, prev: number, ret: number): void {
    if (this.#closed) return;
    const refused = who instanceof ProxyError ? who : this.#ctx.identify(this.#session, who);
    if (refused !== null) return this.#fail(refused);
    const rest = this.#admitHead(req, chunk, headEnd, prev, ret);
    if (this.#closed) return;
    if (rest !== null) this.#leftover = this.#leftover === null ? rest : Buffer.concat([rest, this.#leftover]);
    this.#resumeClient(P_AUTH);
  }

  /** The head is allowed in: limits, then the request starts. Returns the bytes after the request. */
  #admitHead(req: RequestHead, chunk: Buffer, headEnd: number, prev: number, ret: number): Buffer | null {
    if (req.contentLength > this.#ctx.config.maxBodyBytes) {
      this.#req = req;
      this.#fail(new BodyTooLargeError(`request body larger than ${this.#ctx.config.maxBodyBytes} bytes`));
      return null;
    }
    this.#clearHeaderTimer();
    if (this.#upstream !== null && this.#upstreamReuseUntil !== Infinity && this.#upstreamReuseUntil < performance.now()) {
      // The upstream said it drops idle links by now: writing on this one would race its close.
      this.#dropIdleUpstream();
    }
    // The budget is whom the session counts for: the caller once a credential named one (one
    // key behind a NAT, or many on one host), else the address.
    const wait = this.#ctx.admitRequest(this.#session.countedAs ?? this.#session.clientIp);
    if (wait > 0) {
      this.#req = req;
      // Refused before its body is read: the id, when the whole body came with the head.
      const bodyStart = headEnd - prev;
      if (!req.chunked && req.contentLength > 0 && chunk.length - bodyStart >= req.contentLength) {
        this.#failIdJson = requestIdOf(chunk.subarray(bodyStart, bodyStart + req.contentLength));
      }
      this.#fail(new RateLimitedError('rate limit reached: slow down', wait));
      return null;
    }

    const session = this.#session;
    session.requests++;
    this.#req = req;
    this.#reqBodyBytes = 0;
    this.#startedAt = performance.now();
    this.#resFramer.expectNoBody(req.method === 'HEAD');
    this.#resPhase = S_WAIT;
    this.#resendHead = null;
    this.#resent = false;
    // The link kept from the last request is a reused one too.
    this.#reusedLink = this.#upstream !== null;
    this.#obs.onRequestHead(req);
    if (this.#ctx.gate !== null && !this.#holdRequest(req)) return null;
    if (this.#ctx.recovery !== null) {
      this.#retried = false;
      this.#reqCopy = req.contentLength > 0 && !req.chunked ? new BodyCollector() : null;
    }
    this.#reqChunks = req.chunked ? new ChunkedFilter(this.#obs.wantsBodies || this.#held !== null ? this.#onRequestData : null) : null;

    const bodyStart = headEnd - prev;
    const framer = this.#reqFramer;
    let body: Buffer;
    let rest: Buffer | null = null;
    if (ret === FRAME_END) {
      body = chunk.subarray(bodyStart, framer.offset);
      if (framer.offset < chunk.length) rest = chunk.subarray(framer.offset);
      this.#reqPhase = R_DONE;
    } else {
      body = chunk.subarray(bodyStart);
      this.#reqPhase = R_BODY;
      this.#reqRemaining = !req.chunked && req.contentLength >= 0 ? req.contentLength - body.length : -1;
      this.#bodyLastAt = performance.now();
      this.#bodyTimer ??= setTimeout(HttpExchange.#onBodyTimeout, this.#ctx.config.bodyTimeoutMs, this);
      const held = this.#held !== null;
      if (held || (this.#source.queues && this.#upstream === null)) {
        // The body is gathered before the request takes the shared link (or goes anywhere,
        // when held), so a client that waits for 100 Continue gets it from us (RFC 9110
        // §10.1.1 lets a proxy answer).
        if (req.expectContinue && req.versionMinor >= 1) this.#writeClient(CONTINUE);
        if (!held && req.contentLength > GATHER_LIMIT_BYTES) this.#acquireUpstream(true);
      }
    }
    if (this.#held !== null && this.#reqPhase === R_DONE && this.#reqChunks === null) this.#judgeEarly(body);
    if (!this.#sendBody(body, req)) return null;
    if (this.#reqPhase === R_DONE) this.#requestDone();
    else if (this.#upstream === null && !this.#source.queues && this.#held === null) this.#acquireUpstream(false);
    return rest;
  }

  #consumeBody(chunk: Buffer): Buffer | null {
    const remaining = this.#reqRemaining;
    if (remaining >= 0) {
      let body = chunk;
      let rest: Buffer | null = null;
      if (chunk.length >= remaining) {
        body = chunk.subarray(0, remaining);
        if (remaining < chunk.length) rest = chunk.subarray(remaining);
        this.#reqPhase = R_DONE;
        this.#reqRemaining = -1;
      } else {
        this.#reqRemaining = remaining - chunk.length;
      }
      this.#bodyLastAt = performance.now();
      if (body.length > 0 && !this.#sendBody(body)) return null;
      if (this.#reqPhase === R_DONE) this.#requestDone();
      return rest;
    }
    const framer = this.#reqFramer;
    const ret = framer.execute(chunk);
    if (ret === FRAME_ERROR) {
      this.#fail(new BadRequestError(`malformed request body: ${framer.errorReason}`, framer.errorName));
      return null;
    }
    let body = chunk;
    let rest: Buffer | null = null;
    if (ret === FRAME_END) {
      body = chunk.subarray(0, framer.offset);
      if (framer.offset < chunk.length) rest = chunk.subarray(framer.offset);
      this.#reqPhase = R_DONE;
    }
    this.#bodyLastAt = performance.now();
    if (body.length > 0 && !this.#sendBody(body)) return null;
    if (this.#reqPhase === R_DONE) this.#requestDone();
    return rest;
  }

  /** Counts and forwards request body bytes (as sent on the wire), after the rewritten head of `req` when given; false when over the limit. */
  #sendBody(input: Buffer, req: RequestHead | null = null): boolean {
    this.#reqBodyBytes += input.length;
    if (this.#reqBodyBytes > this.#ctx.config.maxBodyBytes) {
      this.#fail(new BodyTooLargeError(`request body larger than ${this.#ctx.config.maxBodyBytes} bytes`));
      return false;
    }
    const chunks = this.#reqChunks;
    const body = chunks === null || input.length === 0 ? input : chunks.push(input);
    // A chunked body reaches the observer (and the hold) through the filter, as data without framing.
    if (body.length > 0 && chunks === null) {
      if (this.#held !== null) this.#held.push(body, this.#ctx.config.inspectLimitBytes);
      if (this.#reqCopy !== null) this.#reqCopy.push(body, this.#ctx.config.inspectLimitBytes);
      if (this.#obs.wantsBodies) this.#obs.onRequestBody(body);
    }
    if (this.#held !== null && this.#held.overflow) {
      this.#fail(new PolicyTooLargeError(this.#ctx.config.inspectLimitBytes));
      return false;
    }
    if (req === null) {
      if (body.length > 0) this.#sendUpstream(body);
      return true;
    }
    const join = joinable(body);
    const head = buildUpstreamRequestHead(req, this.#ctx.rewrite, this.#session.clientIp, join && body.length > 0 ? body : null, this.#upstreamSessionId(req));
    if (req.contentLength <= 0 && !req.chunked && IDEMPOTENT.has(req.method)) this.#resendHead = head;
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
      this.#judge();
      return;
    }
    if (this.#upstream === null && !this.#acquiring) this.#acquireUpstream(false);
    // Time spent waiting for the shared link counts toward --upstream-timeout (docs/reference.md).
    if (this.#upstream !== null || (this.#source.queues && !this.#acquiringOwn)) this.#armResponseTimer();
  }

  #sendUpstream(buf: Buffer): void {
    const upstream = this.#upstream;
    if (upstream === null || this.#held !== null) {
      (this.#outQueue ??= []).push(buf);
      this.#queuedBytes += buf.length;
      // Gathering is bounded: past the limit the request gets a connection of its own
      // (a held body is bounded by --inspect-limit instead).
      if (this.#queuedBytes > GATHER_LIMIT_BYTES && !this.#acquiring && this.#held === null) this.#acquireUpstream(true);
      return;
    }
    if (!upstream.write(buf)) this.#pauseClient(P_BACKPRESSURE);
  }

  #clientDrain(): void {
    if (this.#upstreamPaused) {
      this.#upstreamPaused = false;
      this.#upstream?.resume();
    }
  }

  #clientEnd(): void {
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

  #clientError(err: Error): void {
    this.#session.close('error', err);
  }

  #clientClose(): void {
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
      if (this.#reqPhase === R_BODY) this.#bodyLastAt = performance.now();
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
    const left = this.#bodyLastAt + ms - performance.now();
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

  // ---- hold phase (only with a gate) -----------------------------------------------

  /** Decides from the head whether this request is held; false when it was refused. */
  #holdRequest(req: RequestHead): boolean {
    if (req.upgrade !== null) {
      // A tunnel would carry messages no decider sees.
      this.#fail(new PolicyUnreadableError('a protocol upgrade is refused while a policy is loaded'));
      return false;
    }
    if (req.contentLength === 0 || (req.contentLength < 0 && !req.chunked)) return true;
    const coding = bodyCodingProblem(req);
    if (coding !== null) {
      this.#fail(new PolicyUnreadableError(coding));
      return false;
    }
    const limit = this.#ctx.config.inspectLimitBytes;
    if (req.contentLength > limit) {
      this.#fail(new PolicyTooLargeError(limit));
      return false;
    }
    this.#held = new BodyCollector();
    return true;
  }

  #judgeBody(body: Buffer): Judgement {
    const session = this.#session;
    return this.#ctx.gate!.judge(body, { proxySession: session.id, mcpSession: this.#req!.mcpSessionId, clientIp: session.clientIp, subject: session.subject, claims: session.claims, log: this.#obs.log });
  }

  /** The whole body came with the head (the common case): judged at once, a request that
   *  goes on is not held at all and streams as if no gate were there. */
  #judgeEarly(body: Buffer): void {
    const j = this.#judgeBody(body);
    if (j.type === 'forward' || j.type === 'rewrite') {
      this.#held = null;
      if (j.type === 'rewrite') {
        this.#rewrite = j.verdict;
        this.#rewriteId = j.idJson;
      }
    } else {
      this.#preJudged = j;
    }
  }

  /** The held request is complete: ask the gate what to do with it. */
  #judge(): void {
    const j = this.#preJudged ?? this.#judgeBody(this.#held!.take());
    this.#preJudged = null;
    switch (j.type) {
      case 'forward': return this.#release();
      case 'rewrite':
        this.#rewrite = j.verdict;
        this.#rewriteId = j.idJson;
        return this.#release();
      case 'delay':
        this.#delayTimer = setTimeout(HttpExchange.#onDelayed, j.ms, this);
        return;
      case 'answer': return this.#answer(j.body);
      case 'refuse': return this.#fail(new PolicyUnreadableError(j.why));
    }
  }

  /** Sends the held request on: its gathered head and body go upstream as one write. */
  #release(): void {
    this.#held = null;
    const upstream = this.#upstream;
    if (upstream === null) {
      if (!this.#acquiring) this.#acquireUpstream(false);
    } else {
      const queued = this.#outQueue;
      this.#outQueue = null;
      this.#queuedBytes = 0;
      if (queued !== null && !writeAll(upstream, queued)) this.#pauseClient(P_BACKPRESSURE);
    }
    if (this.#upstream !== null || (this.#source.queues && !this.#acquiringOwn)) this.#armResponseTimer();
  }

  /** Answers the held request ourselves (a JSON-RPC response, or 202 for a notification); the upstream never sees it. */
  #answer(body: Buffer | null): void {
    const req = this.#req!;
    this.#held = null;
    this.#outQueue = null;
    this.#queuedBytes = 0;
    if (req.wantsClose || this.#ctx.isDraining() || this.#session.state !== 'open') this.#closeAfter = true;
    const connection = this.#closeAfter ? 'Connection: close\r\n' : req.versionMinor === 0 ? 'Connection: keep-alive\r\n' : '';
    const status = body === null ? 202 : 200;
    const cors = this.#cors ?? '';
    const head = body === null
      ? `HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n${cors}${connection}\r\n`
      : `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${cors}${connection}\r\n`;
    this.#resStatus = status;
    this.#resStarted = true;
    this.#writeClient(body === null ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), body]));
    if (body !== null) this.#obs.onAnswer(body);
    this.#obs.onResponseEnd(req, status, performance.now() - this.#startedAt);
    this.#endExchange();
  }

  /** Sets up the rewrite a decider asked for, when this response carries a body it can rewrite; false to forward as is. */
  #startTransform(res: ResponseHead, http10Client: boolean): boolean {
    const verdict = this.#rewrite!;
    const limit = this.#ctx.config.inspectLimitBytes;
    if (res.statusCode !== 200) return false;
    if (isJson(res.contentType)) {
      this.#resTransform = new JsonBodyRewrite(limit, this.#rewriteId, verdict);
      return true;
    }
    const type = res.contentType;
    if (type === null || !type.toLowerCase().startsWith('text/event-stream')) return false;
    // Events change length: the stream is re-framed as chunked (close-delimited for HTTP/1.0).
    const chunked = !http10Client;
    if (!chunked) this.#closeAfter = true;
    this.#resTransformChunked = chunked;
    this.#resTransform = new SseRewrite(limit, this.#rewriteId, verdict, (event) => this.#writeTransformed(event));
    this.#writeClient(buildReframedResponseHead(res, this.#ctx.rewrite, this.#closeAfter, http10Client, chunked ? 'Transfer-Encoding: chunked\r\n' : '', this.#clientSessionId(res), this.#cors));
    return true;
  }

  #writeTransformed(data: Buffer): void {
    if (data.length === 0) return;
    if (this.#resTransformChunked) this.#writeClient(Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`, 'latin1'), data, Buffer.from('\r\n', 'latin1')]));
    else this.#writeClient(data);
  }

  /** The rewritten response ended: send what is left; false when it could not be rewritten (the session was closed). */
  #finishTransform(res: ResponseHead | null): boolean {
    const t = this.#resTransform!;
    this.#resTransform = null;
    const rest = t.finish();
    if (rest === null) {
      this.#fail(new PolicyUnreadableError(`the response could not be filtered: ${t.failed}`));
      return false;
    }
    if (t instanceof JsonBodyRewrite) {
      const head = buildReframedResponseHead(res!, this.#ctx.rewrite, this.#closeAfter, this.#req!.versionMinor === 0, `Content-Length: ${rest.length}\r\n`, this.#clientSessionId(res!), this.#cors);
      this.#writeClient(Buffer.concat([head, rest]));
    } else {
      this.#writeTransformed(rest);
      if (this.#resTransformChunked) this.#writeClient(CHUNKED_END);
    }
    return true;
  }

  // ---- session recovery (--recover-sessions) -----------------------------------------

  /** A successful answer teaches the recovery store a session's handshake. */
  #learnSession(req: RequestHead, res: ResponseHead): void {
    const recovery = this.#ctx.recovery!;
    const sid = req.mcpSessionId;
    if (req.method === 'DELETE' && sid !== null) return recovery.forget(sid);
    const copy = this.#reqCopy;
    if (copy === null || copy.overflow || copy.bytes === 0 || this.#reqPhase !== R_DONE) return;
    const body = copy.whole();
    const env = new CallEnvelope();
    if (readCallEnvelope(body, 0, body.length, env) !== ENVELOPE_OK || env.method === null) return;
    if (sid === null && env.method === 'initialize' && res.mcpSessionId !== null) recovery.learnInit(res.mcpSessionId, body);
    else if (sid !== null && REPLAYED_METHODS.has(env.method)) recovery.learnCall(sid, body);
  }

  /**
   * The upstream closed a reused link before a byte of answer: it closed it as idle (its
   * keep-alive ran out as the request went), so it never read the request. Only a bodyless
   * idempotent request is sent again, so even a server that did read it acts the same.
   */
  #resendable(): boolean {
    return this.#resendHead !== null && !this.#resent && this.#reusedLink && this.#reqPhase === R_DONE
      && this.#resPhase === S_WAIT && !this.#resStarted && this.#resHeadBuf === null;
  }

  /** Sends the request again, once, on a fresh connection. */
  #resend(): void {
    const head = this.#resendHead!;
    this.#resent = true;
    this.#reusedLink = false;
    this.#letGoUpstream(false);
    this.#detached = false;
    this.#obs.log().debug({ method: this.#req?.method, path: this.#req?.target }, 'a reused upstream connection closed before answering: request sent again on a fresh one');
    this.#outQueue = [head];
    this.#queuedBytes = head.length;
    this.#acquireUpstream(true);
  }

  /** True when a 404 (or the SDK examples' 400) to this request may be a forgotten session worth recovering. */
  #recoverable(req: RequestHead): boolean {
    const sid = req.mcpSessionId;
    if (this.#retried || sid === null || this.#reqPhase !== R_DONE || !this.#ctx.recovery!.knows(sid)) return false;
    // The request is re-sent whole: a body must be in hand.
    return req.contentLength <= 0 && !req.chunked ? true : this.#reqCopy !== null && !this.#reqCopy.overflow;
  }

  /** The upstream forgot the session: hold its answer, re-run the handshake, then re-send or pass the answer down. */
  #recoverSession(req: RequestHead, notFound: ResponseHead, notFoundBody: Buffer): void {
    this.#retried = true;
    this.#obs.onForgottenSession(req, notFound);
    this.#clearResponseTimer();
    // The 404 was whole and alone; the retry takes a fresh link (a shared one goes back first).
    this.#letGoUpstream(false);
    this.#detached = false;
    this.#resFramer.next();
    this.#resFramer.expectNoBody(req.method === 'HEAD');
    const log = this.#obs.log();
    this.#ctx.recovery!.recover(req.mcpSessionId!, log).then((newId) => {
      if (this.#closed) return;
      if (newId === null) return this.#passNotFound(req, notFound, notFoundBody);
      const copy = this.#reqCopy;
      const body = copy === null ? null : copy.take();
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
    this.#obs.onResponseEnd(req, res.statusCode, performance.now() - this.#startedAt);
    this.#endExchange();
  }

  // ---- upstream side --------------------------------------------------------------

  /** `own`: a connection of this request's own (single-session, a body too large to gather). */
  #acquireUpstream(own: boolean): void {
    if (this.#acquiring || this.#closed) return;
    this.#acquiring = true;
    this.#acquiringOwn = own;
    if (own) this.#source.acquireOwn(this.#onUpstreamReady);
    else this.#source.acquire(this.#onUpstreamReady);
    // Hold client bytes until the link comes, unless it came at once (a pause and resume
    // of the client socket costs a tick).
    if (this.#acquiring) this.#pauseClient(P_UPSTREAM);
  }

  readonly #onUpstreamReady = (err: ProxyError | null, socket: net.Socket | null, dialed?: boolean): void => {
    this.#acquiring = false;
    if (this.#closed) {
      if (socket !== null) this.#source.release(socket, true);
      return;
    }
    if (err !== null || socket === null) {
      this.#obs.onUpstreamError(dialFailureKind(err), err);
      this.#fail(err ?? new UpstreamBrokenError('no upstream connection'));
      return;
    }
    this.#upstream = socket;
    this.#reusedLink = dialed !== true;
    if (dialed === true) this.#obs.onUpstreamConnected(socket);
    // A connection of its own is never the shared link: it is retired, not released.
    this.#detached = this.#acquiringOwn && this.#source.sharesSockets;
    this.#acquiringOwn = false;
    routeUpstream(socket, this);
    const queued = this.#outQueue;
    this.#outQueue = null;
    this.#queuedBytes = 0;
    if (queued !== null && !writeAll(socket, queued)) this.#pauseClient(P_BACKPRESSURE);
    if (this.#reqPhase === R_DONE) this.#armResponseTimer();
    this.#resumeClient(P_UPSTREAM);
  };

  #unbindUpstream(socket: net.Socket): void {
    routeUpstream(socket, null);
    if (this.#upstreamPaused) socket.resume();
    this.#upstreamPaused = false;
  }

  /** UpstreamHandler: the upstream socket took all we wrote. */
  upstreamDrain(): void {
    this.#resumeClient(P_BACKPRESSURE);
  }

  #armResponseTimer(): void {
    if (this.#responseDeadline.at !== 0 || this.#resStarted) return;
    this.#ctx.clocks.response.arm(this.#responseDeadline);
  }

  #clearResponseTimer(): void {
    this.#ctx.clocks.response.disarm(this.#responseDeadline);
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
    if (this.#held !== null) this.#dropIdleUpstream();
    else if (this.#resPhase === S_BODY) {
      this.#consumeResponseBody(chunk);
      if (this.#drainStream && this.#resPhase === S_BODY && !this.#closed) this.#endStreamAtBoundary();
    } else if (this.#resPhase === S_WAIT) {
      this.#consumeResponseHead(chunk);
      if (this.#sseGet && (this.#resPhase as number) === S_BODY && !this.#closed && this.#ctx.isDraining()) {
        // The stream opened while draining: it ends at once (it stands at its first boundary).
        this.#drainStream = true;
        this.#endStreamAtBoundary();
      }
    }
    // Bytes on an idle keep-alive link would be misread as the next response: drop the link.
    else this.#dropIdleUpstream();
  }

  /** The kept upstream link failed or spoke out of turn while idle: forget it quietly. */
  #dropIdleUpstream(): void {
    this.#letGoUpstream(false);
  }

  /**
   * Unbinds the upstream socket and hands it back to its source: kept when `reusable` (a
   * pool parks a clean idle link), destroyed otherwise; a socket of the caller's own
   * (detached) is destroyed here, the source has forgotten it.
   */
  #letGoUpstream(reusable: boolean): void {
    const upstream = this.#upstream;
    if (upstream === null) return;
    this.#unbindUpstream(upstream);
    this.#upstream = null;
    if (this.#detached) upstream.destroy();
    else this.#source.release(upstream, reusable, this.#upstreamReuseUntil);
  }

  #consumeResponseHead(chunk: Buffer): void {
    const framer = this.#resFramer;
    const ret = framer.execute(chunk);
    if (ret === FRAME_ERROR) {
      this.#upstreamFailed(new UpstreamBrokenError(`invalid response from upstream: ${framer.errorReason}`, framer.errorName), 'protocol');
      return;
    }
    if (!framer.headComplete) {
      const buf = this.#resHeadBuf === null ? chunk : Buffer.concat([this.#resHeadBuf, chunk]);
      if (buf.length > MAX_RESPONSE_HEAD_BYTES) {
        this.#upstreamFailed(new UpstreamBrokenError('upstream response head too large'), 'protocol');
        return;
      }
      this.#resHeadBuf = buf;
      return;
    }
    const prev = this.#resHeadBuf === null ? 0 : this.#resHeadBuf.length;
    const all = this.#resHeadBuf === null ? chunk : Buffer.concat([this.#resHeadBuf, chunk]);
    this.#resHeadBuf = null;
    const headEnd = findHeadEnd(all, Math.max(0, prev - 3));
    if (headEnd === -1 || headEnd > MAX_RESPONSE_HEAD_BYTES) {
      this.#upstreamFailed(new UpstreamBrokenError('upstream response head too large'), 'protocol');
      return;
    }
    let res: ResponseHead;
    try {
      res = readResponseHead(all.subarray(0, headEnd));
    } catch (err) {
      // obs-fold or a bad field name that this llhttp build let through: not ours to pass on.
      this.#upstreamFailed(new UpstreamBrokenError(`invalid response head from upstream: ${(err as Error).message}`, err), 'protocol');
      return;
    }
    const req = this.#req!;
    const bodyStart = headEnd - prev;
    const status = res.statusCode;

    if (status < 200 && status !== 101) {
      // Interim response (100 Continue, 103): relay to HTTP/1.1 clients, then read on.
      if (req.versionMinor >= 1) this.#writeClient(buildClientResponseHead(res, this.#ctx.rewrite, false));
      const end = ret === FRAME_END ? framer.offset : chunk.length;
      framer.next();
      framer.expectNoBody(req.method === 'HEAD');
      if (end < chunk.length) this.#consumeResponseHead(chunk.subarray(end));
      return;
    }
    if (this.#ctx.recovery !== null) {
      if ((status === 404 || status === 400) && ret === FRAME_END && framer.offset === chunk.length && this.#recoverable(req)
        && isForgottenSession(status, chunk.subarray(bodyStart, framer.offset))) {
        this.#recoverSession(req, res, Buffer.from(chunk.subarray(bodyStart, framer.offset)));
        return;
      }
      if (status >= 200 && status < 300) this.#learnSession(req, res);
    }
    this.#clearResponseTimer();
    if (status === 101) {
      if (req.upgrade === null) {
        this.#upstreamFailed(new UpstreamBrokenError('upstream switched protocols without an Upgrade request'), 'protocol');
        return;
      }
      this.#startTunnel(res, chunk.subarray(bodyStart));
      return;
    }

    const bodyless = req.method === 'HEAD' || status === 204 || status === 304;
    if (res.otherCoding && !bodyless) {
      this.#upstreamFailed(new UpstreamBrokenError('upstream sent a Transfer-Encoding other than chunked'), 'protocol');
      return;
    }
    const type = res.contentType;
    this.#sseGet = req.method === 'GET' && status === 200 && !bodyless && type !== null && type.toLowerCase().startsWith('text/event-stream');
    this.#sseTail = SSE_START;
    this.#resChunks = res.chunked && !bodyless ? new ChunkedFilter(this.#obs.wantsBodies || this.#sseGet ? this.#onResponseData : null) : null;
    const eofDelimited = !bodyless && !res.chunked && res.contentLength < 0;
    if (req.wantsClose || eofDelimited || this.#reqPhase !== R_DONE || this.#ctx.isDraining() || this.#session.state !== 'open') {
      this.#closeAfter = true;
    }
    if (this.#rewrite !== null) {
      if (!bodyless && this.#startTransform(res, req.versionMinor === 0)) {
        this.#transformHead = res;
        if (res.chunked) this.#resChunks = new ChunkedFilter(this.#onResponseData);
      }
      this.#rewrite = null;
    }
    this.#resStatus = status;
    this.#resKeepAliveMs = res.keepAliveTimeoutMs;
    this.#resStarted = true;
    this.#resPhase = S_BODY;
    this.#obs.onResponseHead(req, res);
    const contentType = res.contentType;
    const streaming = ret !== FRAME_END || (contentType !== null && contentType.toLowerCase().startsWith('text/event-stream'));
    if (streaming && this.#source.sharesSockets && !this.#detached) {
      // A response still streaming after its head never holds the shared link (docs/reference.md).
      this.#source.detach(this.#upstream!);
      this.#detached = true;
    }
    const body = chunk.subarray(bodyStart, ret === FRAME_END ? framer.offset : chunk.length);
    if (ret !== FRAME_END && !res.chunked && res.contentLength >= 0 && !bodyless) {
      this.#resRemaining = res.contentLength - body.length;
    }
    this.#writeBody(body, res, req.versionMinor === 0);
    if (ret === FRAME_END) this.#finishResponse(framer.offset < chunk.length);
  }

  #consumeResponseBody(chunk: Buffer): void {
    const remaining = this.#resRemaining;
    if (remaining >= 0) {
      if (chunk.length < remaining) {
        this.#resRemaining = remaining - chunk.length;
        this.#writeBody(chunk);
        return;
      }
      this.#resRemaining = -1;
      if (remaining > 0) this.#writeBody(remaining === chunk.length ? chunk : chunk.subarray(0, remaining));
      this.#finishResponse(remaining < chunk.length);
      return;
    }
    const framer = this.#resFramer;
    const ret = framer.execute(chunk);
    if (ret === FRAME_ERROR) {
      this.#upstreamFailed(new UpstreamBrokenError(`invalid response body from upstream: ${framer.errorReason}`, framer.errorName), 'protocol');
      return;
    }
    if (ret === FRAME_END) {
      if (framer.offset > 0) this.#writeBody(chunk.subarray(0, framer.offset));
      this.#finishResponse(framer.offset < chunk.length);
      return;
    }
    this.#writeBody(chunk);
  }

  /** Forwards response body bytes to the client, after the rewritten head of `res` when given. */
  #writeBody(input: Buffer, res: ResponseHead | null = null, http10Client = false): void {
    if (this.#resTransform !== null) return this.#transformBody(input);
    const chunks = this.#resChunks;
    const body = chunks === null || input.length === 0 ? input : chunks.push(input);
    if (body.length > 0 && chunks === null) {
      if (this.#obs.wantsBodies) this.#obs.onResponseBody(body);
      if (this.#sseGet) this.#trackSse(body);
    }
    if (res === null) {
      if (body.length > 0) this.#writeClient(body);
      return;
    }
    const join = joinable(body);
    this.#writeClient(buildClientResponseHead(res, this.#ctx.rewrite, this.#closeAfter, http10Client, join && body.length > 0 ? body : null, this.#clientSessionId(res), this.#cors));
    if (!join) this.#writeClient(body);
  }

  /** Response body bytes of a response being rewritten: fed to the transform, which writes what it may. */
  #transformBody(input: Buffer): void {
    if (input.length === 0) return;
    const t = this.#resTransform!;
    const chunks = this.#resChunks;
    if (chunks !== null) chunks.push(input);
    else {
      t.push(input);
      if (this.#obs.wantsBodies) this.#obs.onResponseBody(input);
    }
    if (t.failed !== null) this.#fail(new PolicyUnreadableError(`the response could not be filtered: ${t.failed}`));
  }

  #writeClient(buf: Buffer): void {
    this.#session.bytesOut += buf.length;
    if (!this.#client.write(buf) && !this.#upstreamPaused && this.#upstream !== null) {
      this.#upstreamPaused = true;
      this.#upstream.pause();
    }
  }

  /** The response ended; `trailingBytes` means the upstream sent more than one response. */
  #finishResponse(trailingBytes: boolean): void {
    if (this.#closed) return;
    if (this.#resTransform !== null && !this.#finishTransform(this.#transformHead)) return;
    this.#clearResponseTimer();
    const upstream = this.#upstream!;
    const clean = !trailingBytes && this.#reqPhase === R_DONE && this.#resFramer.keepAlive;
    const reusable = clean && !this.#detached;
    const keepAliveMs = this.#resKeepAliveMs;
    const reuseUntil = keepAliveMs < 0 ? Infinity : performance.now() + Math.max(0, keepAliveMs - KEEP_ALIVE_MARGIN_MS);
    if (reusable && !this.#source.sharesSockets) {
      this.#upstreamReuseUntil = reuseUntil;
      // The session's own link stays bound to this exchange until the next request:
      // no listener churn per request. Idle events are handled by #dropIdleUpstream.
      if (this.#upstreamPaused) {
        this.#upstreamPaused = false;
        upstream.resume();
      }
    } else {
      this.#unbindUpstream(upstream);
      this.#upstream = null;
      if (this.#detached) this.#source.retire(upstream, clean, reuseUntil);
      else this.#source.release(upstream, reusable, reuseUntil);
    }
    this.#detached = false;
    this.#obs.onResponseEnd(this.#req, this.#resStatus, performance.now() - this.#startedAt);
    this.#endExchange();
  }

  /** Resets for the next request, or closes when this exchange was the last. */
  #endExchange(): void {
    const closeAtOnce = this.#req !== null && this.#req.wantsClose && this.#reqPhase === R_DONE && this.#leftover === null;
    this.#sseGet = false;
    this.#drainStream = false;
    this.#rewrite = null;
    this.#preJudged = null;
    this.#resTransform = null;
    this.#transformHead = null;
    this.#resPhase = S_IDLE;
    this.#reqRemaining = -1;
    this.#resRemaining = -1;
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
    this.#reqFramer.next();
    this.#resFramer.next();
    this.#reqPhase = R_HEAD;
    this.#resumeClient(P_RESPONSE);
  }

  // A final answer may still be flushing: from here endAndLinger() owns the client socket.
  #handOffClient(): void {
    this.#lingering = true;
    this.#unbindClient();
  }

  #unbindClient(): void {
    const client = this.#client;
    client.removeListener('data', HttpExchange.#onClientData);
    client.removeListener('end', HttpExchange.#onClientEnd);
    client.removeListener('drain', HttpExchange.#onClientDrain);
    client.removeListener('error', HttpExchange.#onClientError);
    client.removeListener('close', HttpExchange.#onClientClose);
  }

  /** UpstreamHandler: the upstream closed its side. */
  upstreamEnd(): void {
    if (this.#closed) return;
    if (this.#resPhase === S_IDLE || this.#held !== null) return this.#dropIdleUpstream();
    if (this.#resPhase === S_BODY && this.#resFramer.finish()) {
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
    if (this.#resPhase === S_IDLE || this.#held !== null) return this.#dropIdleUpstream();
    this.#upstreamFailed(upstreamSocketError(err), 'reset');
  }

  /** UpstreamHandler: the upstream socket closed. */
  upstreamClose(): void {
    if (this.#closed || this.#upstream === null) return;
    if (this.#resPhase === S_IDLE || this.#held !== null) return this.#dropIdleUpstream();
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
    const upstream = this.#upstream!;
    this.#unbindUpstream(upstream);
    // The tunnel's own listeners take over.
    unrouteUpstream(upstream);
    this.#upstream = null;
    if (!this.#detached) this.#source.detach(upstream);
    this.#resPhase = S_TUNNEL;
    this.#resStatus = 101;
    this.#obs.onResponseHead(this.#req!, res);
    this.#obs.onResponseEnd(this.#req, 101, performance.now() - this.#startedAt);
    const client = this.#client;
    this.#unbindClient();
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
    this.#obs.onResponseEnd(this.#req, status, this.#req === null ? 0 : performance.now() - this.#startedAt);
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
