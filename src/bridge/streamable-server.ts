// The client transport of the message bridge: MCP Streamable HTTP (2025-03-26 and later)
// served on node:http. POST carries client messages (a request is answered as an event
// stream when the client accepts one, else as JSON; notifications and responses get 202),
// GET opens the session's stream for messages tied to no request (a new GET replaces an
// older one, Last-Event-ID resumes from the session's event log), DELETE ends the session.
// Unknown session → 404, a missing one on anything but initialize → 400. Every refusal is
// the JSON-RPC error body of the one error table.

import type http from 'node:http';
import { MethodNotAllowedError, NotAcceptableError, ProxyError, RateLimitedError, SessionMissingError, SessionNotFoundError } from '../errors.js';
import type { MessageGate } from '../mcp/gate.js';
import type { McpMessageSink } from '../mcp/inspector.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { BridgeSession } from './bridge-session.js';
import { deliver, headerOf, isRequest, ownedBy, proved, readMessages, refuse, identityOf, subjectOf, type Reply } from './client-messages.js';
import { PostAnswer } from './post-answer.js';
import { serveLegacy } from './sse-server.js';
import type { SessionRelay } from './session-relay.js';
import type { Identity } from '../session/identity.js';
import type { AuthOutcome, InboundAuth } from '../policy/inbound-auth.js';
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
  /** A session for a client at `ip`, counted for --max-per-client by its identity when it proved one. */
  newSession(ip: string, port: number, who: Identity | null): BridgeSession | ProxyError;
  /** A delay a decider asked for (cleared at shutdown). */
  later(ms: number, run: () => void): void;
  /** --rate-limit: 0 lets a request from `client` (an IP, or `subject:NAME`) through, else seconds to wait. */
  admitRequest(client: string): number;
  /** With --workers: sends a request for another worker's session there. */
  readonly relay: SessionRelay | null;
  /** --serve-sse: GET …/sse and POST …/message are the legacy transport's. */
  readonly serveSse: boolean;
  /** Host and Origin checks (always on): null lets the request through, else its 403. */
  admitOrigin(host: string | null, origin: string | null, clientIp: string): ProxyError | null;
  /** --cors: the headers of an answer to `origin`; null without --cors. */
  corsHeaders(origin: string): Record<string, string> | null;
  /** --auth-keys: every request's credential is checked; null when none is asked for. */
  readonly auth: InboundAuth | null;
}

/** What a CORS preflight answer allows, besides the origin. */
const PREFLIGHT = {
  'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
  'access-control-allow-headers': 'Content-Type, Accept, Authorization, X-API-Key, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID',
  'access-control-max-age': '600',
};

/** Checks `req`'s credential, then `then()` with its identity noted; a refusal is answered here. */
function authenticated(auth: InboundAuth, req: http.IncomingMessage, res: http.ServerResponse, then: () => void): void {
  const settle = (who: AuthOutcome): void => {
    if (who instanceof ProxyError) {
      req.resume();
      return refuse(res, who);
    }
    proved(req, who);
    then();
  };
  const who = auth.authenticate(headerOf(req, 'authorization') ?? null, headerOf(req, 'x-api-key') ?? null, headerOf(req, 'host') ?? null, req.socket.remoteAddress ?? '');
  if (who instanceof Promise) void who.then((w) => (res.destroyed ? req.resume() : settle(w)));
  else settle(who);
}

/** The request handler of the bridge's HTTP server. */
export function streamableHandler(host: BridgeHost): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const started = performance.now();
    res.once('finish', () => host.metrics.requestDone(res.statusCode, (performance.now() - started) / 1000));
    const origin = headerOf(req, 'origin') ?? null;
    const refused = host.admitOrigin(headerOf(req, 'host') ?? null, origin, req.socket.remoteAddress ?? '');
    if (refused !== null) {
      req.resume();
      return refuse(res, refused);
    }
    const cors = origin === null ? null : host.corsHeaders(origin);
    if (cors !== null) {
      // Every answer to this browser carries them (node:http merges them into writeHead's).
      for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);
      if (req.method === 'OPTIONS') {
        req.resume();
        return void res.writeHead(204, PREFLIGHT).end();
      }
    }
    if (host.auth !== null) {
      if (req.method === 'GET' && host.auth.isMetadataPath(req.url ?? '/')) {
        req.resume();
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(host.auth.metadata(headerOf(req, 'host') ?? null));
      }
      return authenticated(host.auth, req, res, () => admitted(host, req, res));
    }
    admitted(host, req, res);
  };
}

/** A request past the Origin and credential checks: the rate limit, then a worker or this process serves it. */
function admitted(host: BridgeHost, req: http.IncomingMessage, res: http.ServerResponse): void {
  // With a credential the budget is the caller's, else the address's.
  const subject = subjectOf(req);
  const wait = host.admitRequest(subject === null ? req.socket.remoteAddress ?? '' : `subject:${subject}`);
  if (wait > 0) {
    req.resume();
    return refuse(res, new RateLimitedError('rate limit reached: slow down', wait));
  }
  if (host.relay !== null && host.relay.take(req, res)) return;
  serve(host, req, res);
}

/** The handler of a worker's private port: requests relayed by other workers of the run, already limited and counted there. */
export function relayedHandler(host: BridgeHost, relay: SessionRelay): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    if (!relay.admits(req)) return void req.socket.destroy();
    // Checked by the worker that took it: the key (relayed with the request) names the subject again here.
    if (host.auth !== null) return authenticated(host.auth, req, res, () => serve(host, req, res));
    serve(host, req, res);
  };
}

function serve(host: BridgeHost, req: http.IncomingMessage, res: http.ServerResponse): void {
  if (host.serveSse && serveLegacy(host, req, res)) return;
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
  const s = ownedBy(req, host.sessionFor(sid));
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
  readMessages(host, req, res, (m) => {
    const sid = headerOf(req, 'mcp-session-id');
    let s: BridgeSession | undefined;
    if (sid === undefined) {
      if (!m.msgs.some((msg) => msg.method === 'initialize' && isRequest(msg))) return refuse(res, new SessionMissingError());
      const made = host.newSession(req.socket.remoteAddress ?? '', req.socket.remotePort ?? 0, identityOf(req));
      if (made instanceof ProxyError) return refuse(res, made, JSON.stringify(m.msgs[0]!.id ?? null));
      s = made;
    } else {
      s = ownedBy(req, host.sessionFor(sid));
      if (s === undefined) return refuse(res, new SessionNotFoundError(), m.batch ? null : JSON.stringify(m.msgs[0]!.id ?? null));
    }
    const stream = (headerOf(req, 'accept') ?? '').includes('text/event-stream');
    deliver(host, res, s, m, postReply(res, stream));
  });
}

/** Streamable HTTP answers a POST on its own response: an event stream, or JSON. */
function postReply(res: http.ServerResponse, stream: boolean): Reply {
  return {
    mocked: (s, body) => {
      if (body === null) return void res.writeHead(202, { 'mcp-session-id': s.session.id }).end();
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': s.session.id }).end(body);
    },
    accepted: (s) => void res.writeHead(202, { 'mcp-session-id': s.session.id }).end(),
    answer: (s, requests, batch) => new PostAnswer(res, s, stream, requests, batch, { 'mcp-session-id': s.session.id }),
  };
}
