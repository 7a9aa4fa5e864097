// The per-session observer an app gives each L7 exchange: metrics, the per-request
// debug log line and (when enabled) MCP inspection, composed into one object so the
// exchange makes one call per event.

import type net from 'node:net';
import { TLSSocket } from 'node:tls';
import type { RequestHead, ResponseHead } from '../http/head.js';
import type { ConformanceLint } from '../mcp/conformance.js';
import { isEventStream, isJson } from '../http/media-type.js';
import type { McpInspector } from '../mcp/inspector.js';
import type { LazyLogger } from '../mcp/message.js';
import type { LogThrottle } from '../observe/log-throttle.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { ExchangeObserver } from '../proxy/exchange-observer.js';
import type { Registry } from '../session/registry.js';
import type { Session } from '../session/session.js';

/** Builds the observer of one session. */
export class SessionObserver implements ExchangeObserver {
  readonly wantsBodies: boolean;
  readonly #session: Session;
  readonly #metrics: Metrics;
  readonly log: LazyLogger;
  readonly #registry: Registry;
  readonly #inspector: McpInspector | null;
  readonly #debug: boolean;
  readonly #throttle: LogThrottle;
  readonly #lint: ConformanceLint;
  /** The response being read is neither JSON nor an event stream: its first bytes are linted. */
  #untypedReq: RequestHead | null = null;
  #untypedRes: ResponseHead | null = null;
  #chunked202: RequestHead | null = null;

  constructor(session: Session, metrics: Metrics, log: LazyLogger, debug: boolean, registry: Registry, inspector: McpInspector | null, throttle: LogThrottle, lint: ConformanceLint) {
    this.#throttle = throttle;
    this.#lint = lint;
    this.#session = session;
    this.#metrics = metrics;
    this.log = log;
    this.#registry = registry;
    this.#inspector = inspector;
    this.wantsBodies = inspector !== null;
    this.#debug = debug;
  }

  onRequestHead(req: RequestHead): void {
    if (req.mcpSessionId !== null) {
      this.#registry.setMcpSession(this.#session, req.mcpSessionId);
      if (!req.mcpProtocolVersion) this.#lint.onRequest(req);
    }
    this.#inspector?.onRequestHead(req);
  }

  onRequestBody(chunk: Buffer): void {
    this.#inspector?.onRequestBody(chunk);
  }

  onRequestEnd(): void {
    this.#inspector?.onRequestEnd();
  }

  onResponseHead(req: RequestHead, res: ResponseHead): void {
    if (res.mcpSessionId !== null) this.#registry.setMcpSession(this.#session, res.mcpSessionId);
    if (res.mcpSessionId !== null || req.mcpSessionId !== null || res.statusCode === 202) this.#lint.onResponse(req, res);
    const type = res.contentType;
    // A chunked 202 may still be empty: only data makes it a breach.
    this.#chunked202 = res.statusCode === 202 && res.chunked ? req : null;
    // Body bytes reach this observer only while inspecting.
    const untyped = this.wantsBodies && res.statusCode === 200 && type !== 'application/json' && !isJson(type) && !isEventStream(type);
    this.#untypedReq = untyped ? req : null;
    this.#untypedRes = untyped ? res : null;
    this.#inspector?.onResponseHead(req, res);
  }

  onResponseBody(chunk: Buffer): void {
    if (this.#chunked202 !== null) {
      this.#lint.on202Body(this.#chunked202, chunk.length);
      this.#chunked202 = null;
    }
    const res = this.#untypedRes;
    if (res !== null) {
      this.#untypedRes = null;
      this.#lint.onUntypedBody(this.#untypedReq!, res, chunk);
    }
    this.#inspector?.onResponseBody(chunk);
  }

  onAnswer(body: Buffer): void {
    this.#inspector?.onAnswer(body);
  }

  onForgottenSession(req: RequestHead, res: ResponseHead): void {
    this.#lint.onForgottenSession(req, res);
  }

  requestIdJson(): string | null {
    return this.#inspector?.requestIdJson() ?? null;
  }

  onResponseEnd(req: RequestHead | null, status: number, durationMs: number): void {
    // An idle session keeps no head: an untyped response that sent no body leaves its pair here.
    this.#untypedReq = null;
    this.#untypedRes = null;
    this.#chunked202 = null;
    this.#inspector?.onResponseEnd();
    this.#metrics.requestDone(status, durationMs / 1000);
    if (this.#debug) {
      this.log().debug({ method: req?.method, path: req?.target, status, ms: Math.round(durationMs * 1000) / 1000 }, 'request');
    }
  }

  onUpstreamConnected(socket: net.Socket): void {
    if (this.#debug) logUpstreamConnected(this.log(), socket);
  }

  onUpstreamError(kind: string, error: unknown): void {
    this.#metrics.upstreamError(kind);
    logUpstreamError(this.log(), this.#throttle, kind, error);
  }
}

/** The debug line of a new upstream connection: for TLS, what was negotiated. */
export function logUpstreamConnected(log: Logger, socket: net.Socket): void {
  const fields: Record<string, unknown> = { upstream: `${socket.remoteAddress}:${socket.remotePort}`, local: socket.localPort };
  if (socket instanceof TLSSocket) {
    fields.protocol = socket.getProtocol();
    fields.cipher = socket.getCipher()?.name;
    fields.resumed = socket.isSessionReused();
  }
  log.debug(fields, 'upstream connected');
}

/** The warn line of an upstream failure; a storm of fd exhaustion is logged once a second. */
export function logUpstreamError(log: Logger, throttle: LogThrottle, kind: string, error: unknown): void {
  const suppressed = kind === 'fd-exhausted' ? throttle.allow(kind) : 0;
  if (suppressed === null) return;
  const fields: Record<string, unknown> = { kind, err: error instanceof Error ? error.message : String(error) };
  if (suppressed > 0) fields.suppressed = suppressed;
  log.warn(fields, 'upstream error');
}
