// The client transport of the message bridge: MCP Streamable HTTP (2025-03-26 and later)
// served on node:http. POST carries client messages (a request is answered as an event
// stream when the client accepts one, else as JSON; notifications and responses get 202),
// GET opens the session's stream for messages tied to no request (a new GET replaces an
// older one, Last-Event-ID resumes from the session's event log), DELETE ends the session.
// Unknown session → 404, a missing one on anything but initialize → 400. Every refusal is
// the JSON-RPC error body of the one error table.

import type http from 'node:http';
import {
  BodyTooLargeError, BodyTimeoutError, MethodNotAllowedError, NotAcceptableError, PolicyTooLargeError, PolicyUnreadableError,
  ProxyError, RateLimitedError, SessionMissingError, SessionNotFoundError,
} from '../errors.js';
import { errorResponseParts } from '../http/error-response.js';
import type { MessageGate } from '../mcp/gate.js';
import type { McpMessageSink } from '../mcp/inspector.js';
import type { RewriteVerdict } from '../mcp/message.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { BridgeSession } from './bridge-session.js';
import type { RpcMessage } from './child-link.js';
import { PostAnswer } from './post-answer.js';
import type { SessionRelay } from './session-relay.js';
import { SseWriter } from './sse-writer.js';

/** What the transport asks of the app. */
export interface BridgeHost {
  readonly gate: MessageGate | null;
  readonly sink: McpMessageSink;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly maxBodyBytes: number;
  /** With a policy: the largest body that can be judged. */
  readonly inspectLimitBytes: number;
  readonly bodyTimeoutMs: number;
  /** The live session with this id. */
  sessionFor(id: string): BridgeSession | undefined;
  /** A new session for a client's initialize, or why there is none (limits, draining). */
  newSession(ip: string, port: number): BridgeSession | ProxyError;
  /** A delay a decider asked for (cleared at shutdown). */
  later(ms: number, run: () => void): void;
  /** --rate-limit: 0 lets a request from `ip` through, else seconds to wait. */
  admitRequest(ip: string): number;
  /** With --workers: sends a request for another worker's session there. */
  readonly relay: SessionRelay | null;
}

function refuse(res: http.ServerResponse, err: unknown, idJson: string | null = null, extra: Record<string, string> = {}): void {
  const { status, headers, body } = errorResponseParts(err, idJson);
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { ...headers, ...extra }).end(body);
}

/** A JSON-RPC error of the protocol itself (parse error, invalid request), as HTTP 400. */
function rpcError(res: http.ServerResponse, code: number, message: string): void {
  res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }));
}

function headerOf(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Reads a request body, bounded in size and in the gap between its pieces. */
function readBody(req: http.IncomingMessage, limit: number, gapMs: number, done: (err: ProxyError | null, body: Buffer) => void): void {
  const parts: Buffer[] = [];
  let bytes = 0;
  let finished = false;
  const finish = (err: ProxyError | null): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    req.removeListener('data', onData);
    if (err !== null) req.resume();
    done(err, err === null ? Buffer.concat(parts) : Buffer.alloc(0));
  };
  const timer = setTimeout(() => finish(new BodyTimeoutError(`request body stalled for ${gapMs} ms`)), gapMs);
  const onData = (chunk: Buffer): void => {
    bytes += chunk.length;
    if (bytes > limit) return finish(new BodyTooLargeError(`request body larger than ${limit} bytes`));
    parts.push(chunk);
    timer.refresh();
  };
  req.on('data', onData);
  req.once('end', () => finish(null));
  req.once('error', () => finish(new BodyTimeoutError('request body ended early')));
}

const isRequest = (m: RpcMessage): boolean => typeof m.method === 'string' && m.id !== undefined && m.id !== null;

/** The request handler of the bridge's HTTP server. */
export function streamableHandler(host: BridgeHost): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const started = performance.now();
    res.once('finish', () => host.metrics.requestDone(res.statusCode, (performance.now() - started) / 1000));
    const wait = host.admitRequest(req.socket.remoteAddress ?? '');
    if (wait > 0) {
      req.resume();
      return refuse(res, new RateLimitedError('rate limit reached: slow down', wait));
    }
    if (host.relay !== null && host.relay.take(req, res)) return;
    serve(host, req, res);
  };
}

/** The handler of a worker's private port: requests relayed by other workers of the run, already limited and counted there. */
export function relayedHandler(host: BridgeHost, relay: SessionRelay): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    if (!relay.admits(req)) return void req.socket.destroy();
    serve(host, req, res);
  };
}

function serve(host: BridgeHost, req: http.IncomingMessage, res: http.ServerResponse): void {
  switch (req.method) {
    case 'POST': return onPost(host, req, res);
    case 'GET': return onGet(host, req, res);
    case 'DELETE': return onDelete(host, req, res);
    default: return refuse(res, new MethodNotAllowedError(req.method ?? '?'), null, { allow: 'POST, GET, DELETE' });
  }
}

function sessionOf(host: BridgeHost, req: http.IncomingMessage, res: http.ServerResponse): BridgeSession | null {
  const sid = headerOf(req, 'mcp-session-id');
  if (sid === undefined) {
    refuse(res, new SessionMissingError());
    return null;
  }
  const s = host.sessionFor(sid);
  if (s === undefined) {
    refuse(res, new SessionNotFoundError());
    return null;
  }
  return s;
}

function onGet(host: BridgeHost, req: http.IncomingMessage, res: http.ServerResponse): void {
  req.resume();
  if (!(headerOf(req, 'accept') ?? '').includes('text/event-stream')) return refuse(res, new NotAcceptableError('GET opens an event stream: Accept must include text/event-stream'));
  const s = sessionOf(host, req, res);
  if (s === null) return;
  const last = headerOf(req, 'last-event-id');
  const lastId = last !== undefined && /^\d{1,15}$/.test(last) ? Number(last) : null;
  const sse: SseWriter = new SseWriter(res, { 'mcp-session-id': s.session.id }, () => s.closedGet(sse));
  s.openGet(sse, lastId);
}

function onDelete(host: BridgeHost, req: http.IncomingMessage, res: http.ServerResponse): void {
  req.resume();
  const s = sessionOf(host, req, res);
  if (s === null) return;
  host.sink.mcpSessionEnded(s.session.id);
  s.session.close('done');
  res.writeHead(204).end();
}

function onPost(host: BridgeHost, req: http.IncomingMessage, res: http.ServerResponse): void {
  const limit = host.gate !== null ? Math.min(host.maxBodyBytes, host.inspectLimitBytes) : host.maxBodyBytes;
  const declared = Number(headerOf(req, 'content-length') ?? -1);
  if (declared > limit) return refuse(res, host.gate !== null && declared <= host.maxBodyBytes ? new PolicyTooLargeError(limit) : new BodyTooLargeError(`request body larger than ${limit} bytes`));
  readBody(req, limit, host.bodyTimeoutMs, (err, body) => {
    if (err !== null) return refuse(res, err instanceof BodyTooLargeError && host.gate !== null ? new PolicyTooLargeError(limit) : err);
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      return rpcError(res, -32700, 'Parse error: the body is not JSON');
    }
    const batch = Array.isArray(value);
    const messages = (batch ? value : [value]) as unknown[];
    if (messages.length === 0 || messages.some((m) => typeof m !== 'object' || m === null || Array.isArray(m))) return rpcError(res, -32600, 'Invalid Request');
    const msgs = messages as RpcMessage[];
    const sid = headerOf(req, 'mcp-session-id');
    let s: BridgeSession | undefined;
    if (sid === undefined) {
      if (!msgs.some((m) => m.method === 'initialize' && isRequest(m))) return refuse(res, new SessionMissingError());
      const made = host.newSession(req.socket.remoteAddress ?? '', req.socket.remotePort ?? 0);
      if (made instanceof ProxyError) return refuse(res, made, JSON.stringify(msgs[0]!.id ?? null));
      s = made;
    } else {
      s = host.sessionFor(sid);
      if (s === undefined) return refuse(res, new SessionNotFoundError(), batch ? null : JSON.stringify(msgs[0]!.id ?? null));
    }
    const session = s;
    session.session.requests++;
    session.session.bytesIn += body.length;
    let rewrite: RewriteVerdict | null = null;
    if (host.gate !== null) {
      const j = host.gate.judge(body, { proxySession: session.session.id, mcpSession: session.session.id, clientIp: session.session.clientIp, log: session.origin.log });
      switch (j.type) {
        case 'refuse': return refuse(res, new PolicyUnreadableError(j.why));
        case 'answer':
          host.sink.body(body, 'client', session.origin);
          if (j.body === null) return void res.writeHead(202, { 'mcp-session-id': session.session.id }).end();
          host.sink.body(j.body, 'server', session.origin);
          return void res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': session.session.id }).end(j.body);
        case 'delay': return host.later(j.ms, () => dispatch(host, req, res, session, body, msgs, batch, null));
        case 'rewrite': rewrite = j.verdict; break;
        case 'forward': break;
      }
    }
    dispatch(host, req, res, session, body, msgs, batch, rewrite);
  });
}

/** Hands the messages of a POST to the session's child link. */
function dispatch(host: BridgeHost, req: http.IncomingMessage, res: http.ServerResponse, s: BridgeSession, body: Buffer, msgs: RpcMessage[], batch: boolean, rewrite: RewriteVerdict | null): void {
  if (s.session.state === 'closed') return refuse(res, new SessionNotFoundError());
  host.sink.body(body, 'client', s.origin);
  const requests = msgs.filter(isRequest);
  for (const m of msgs) {
    if (isRequest(m)) continue;
    if (typeof m.method === 'string') s.link.notify(s, m);
    else s.link.respond(s, m);
  }
  if (requests.length === 0) return void res.writeHead(202, { 'mcp-session-id': s.session.id }).end();
  const stream = (headerOf(req, 'accept') ?? '').includes('text/event-stream');
  const answer = new PostAnswer(res, s, stream, requests.length, batch, { 'mcp-session-id': s.session.id });
  s.started(answer);
  for (const m of requests) s.link.request(s, m, JSON.stringify(m.id), answer, rewrite);
}
