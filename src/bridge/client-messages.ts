// What the message bridge's HTTP client transports share (Streamable HTTP, and the legacy
// HTTP+SSE transport for old clients): refusals in the one error table's shape, the bounded
// body read, the JSON-RPC reading of a POST, and the policy gate between a POST's messages
// and the session's upstream link. The transports differ only in where answers go (a
// Reply).

import type { Identity } from '../session/identity.js';
import type http from 'node:http';
import { BodyTooLargeError, BodyTimeoutError, PolicyTooLargeError, PolicyUnreadableError, SessionNotFoundError, type ProxyError } from '../errors.js';
import { errorResponseParts } from '../http/error-response.js';
import type { RewriteVerdict } from '../mcp/message.js';
import type { BridgeSession } from './bridge-session.js';
import type { RpcMessage } from './child-link.js';
import type { Answer } from './post-answer.js';
import type { BridgeHost } from './streamable-server.js';

/** Answers `err` (a ProxyError or anything else) with the error table's status and JSON-RPC body. */
export function refuse(res: http.ServerResponse, err: unknown, idJson: string | null = null, extra: Record<string, string> = {}): void {
  const { status, headers, body } = errorResponseParts(err, idJson);
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { ...headers, ...extra }).end(body);
}

/** A JSON-RPC error of the protocol itself (parse error, invalid request), as HTTP 400. */
export function rpcError(res: http.ServerResponse, code: number, message: string): void {
  res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }));
}

/** One header's value (the first, when repeated). */
export function headerOf(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The identity each authenticated request proved, for the session it starts. */
const identities = new WeakMap<http.IncomingMessage, Identity>();

/** Notes that `req` proved to be `who`. */
export function proved(req: http.IncomingMessage, who: Identity): void {
  identities.set(req, who);
}

/** The identity `req` proved, or null. */
export function identityOf(req: http.IncomingMessage): Identity | null {
  return identities.get(req) ?? null;
}

/** The subject `req` proved, or null. */
export function subjectOf(req: http.IncomingMessage): string | null {
  return identities.get(req)?.subject ?? null;
}

/** `s`, when `req` may use it: a session started with a key answers only to requests with a key of the same name. */
export function ownedBy(req: http.IncomingMessage, s: BridgeSession | undefined): BridgeSession | undefined {
  return s === undefined || s.session.subject === subjectOf(req) ? s : undefined;
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

/** A POST's JSON-RPC messages. */
export interface ClientMessages {
  readonly body: Buffer;
  readonly msgs: RpcMessage[];
  readonly batch: boolean;
}

/** Reads a POST's body as JSON-RPC messages (bounded as the policy needs); refusals are answered here. */
export function readMessages(host: BridgeHost, req: http.IncomingMessage, res: http.ServerResponse, then: (m: ClientMessages) => void): void {
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
    then({ body, msgs: messages as RpcMessage[], batch });
  });
}

/** A client request (not a notification or a response). */
export const isRequest = (m: RpcMessage): boolean => typeof m.method === 'string' && m.id !== undefined && m.id !== null;

/** Where a transport sends what its POSTs get. */
export interface Reply {
  /** The policy answered in the server's place (`body` null: nothing to send back). */
  mocked(s: BridgeSession, body: Buffer | null): void;
  /** The POST held no requests: acknowledged. */
  accepted(s: BridgeSession): void;
  /** The answer its `requests` requests go through. */
  answer(s: BridgeSession, requests: number, batch: boolean): Answer;
}

/** Judges a POST's messages by the policy, then hands them to the session's upstream link. */
export function deliver(host: BridgeHost, res: http.ServerResponse, s: BridgeSession, m: ClientMessages, reply: Reply): void {
  s.session.requests++;
  s.session.bytesIn += m.body.length;
  let rewrite: RewriteVerdict | null = null;
  if (host.gate !== null) {
    const j = host.gate.judge(m.body, { proxySession: s.session.id, mcpSession: s.session.id, clientIp: s.session.clientIp, subject: s.session.subject, claims: s.session.claims, log: s.origin.log });
    switch (j.type) {
      case 'refuse': return refuse(res, new PolicyUnreadableError(j.why));
      case 'answer':
        host.sink.body(m.body, 'client', s.origin);
        if (j.body !== null) host.sink.body(j.body, 'server', s.origin);
        return reply.mocked(s, j.body);
      case 'delay': return host.later(j.ms, () => dispatch(host, res, s, m, null, reply));
      case 'rewrite': rewrite = j.verdict; break;
      case 'forward': break;
    }
  }
  dispatch(host, res, s, m, rewrite, reply);
}

function dispatch(host: BridgeHost, res: http.ServerResponse, s: BridgeSession, m: ClientMessages, rewrite: RewriteVerdict | null, reply: Reply): void {
  if (s.session.state === 'closed') return refuse(res, new SessionNotFoundError());
  host.sink.body(m.body, 'client', s.origin);
  const requests = m.msgs.filter(isRequest);
  for (const msg of m.msgs) {
    if (isRequest(msg)) continue;
    if (typeof msg.method === 'string') s.link.notify(s, msg);
    else s.link.respond(s, msg);
  }
  if (requests.length === 0) return reply.accepted(s);
  const answer = reply.answer(s, requests.length, m.batch);
  s.started(answer);
  for (const msg of requests) s.link.request(s, msg, JSON.stringify(msg.id), answer, rewrite);
}
