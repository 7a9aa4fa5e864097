// The legacy HTTP+SSE transport (MCP 2024-11-05) served to old clients (--serve-sse), as a
// second client transport of the message bridge: GET …/sse opens a session whose one event
// stream first names, in an `endpoint` event, where its messages are POSTed
// (…/message?sessionId=…); each POST there gets 202 and everything the server says to the
// session (answers, progress, its own requests and notifications) arrives on that stream.
// The stream closing ends the session. Limits, policies, tapes and drain are the bridge's.

import type http from 'node:http';
import { errorBody } from '../http/error-response.js';
import { NotAcceptableError, ProxyError, SessionMissingError, SessionNotFoundError } from '../errors.js';
import type { BridgeSession } from './bridge-session.js';
import { deliver, headerOf, ownedBy, readMessages, refuse, identityOf, type Reply } from './client-messages.js';
import type { Answer, AnswerOwner } from './post-answer.js';
import { SseWriter } from './sse-writer.js';
import type { BridgeHost } from './streamable-server.js';

/** The legacy transport's two paths (and anything before them, for a proxy mounted under a prefix). */
const SSE_PATH = /\/sse$/;
const MESSAGE_PATH = /\/message$/;

/** The path of a request URL, without its query. */
function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** The `sessionId` a legacy client's POST names, if any. */
export function legacySessionId(url: string): string | null {
  const q = url.indexOf('?');
  if (q < 0 || !MESSAGE_PATH.test(url.slice(0, q))) return null;
  return new URLSearchParams(url.slice(q + 1)).get('sessionId');
}

/** Serves `req` when it is the legacy transport's (true), else leaves it to Streamable HTTP. */
export function serveLegacy(host: BridgeHost, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const path = pathOf(req.url ?? '/');
  if (req.method === 'GET' && SSE_PATH.test(path)) {
    openStream(host, req, res, path);
    return true;
  }
  if (req.method === 'POST' && MESSAGE_PATH.test(path)) {
    onMessage(host, req, res);
    return true;
  }
  return false;
}

function openStream(host: BridgeHost, req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
  req.resume();
  if (!(headerOf(req, 'accept') ?? 'text/event-stream').includes('text/event-stream')) return refuse(res, new NotAcceptableError('GET /sse opens an event stream: Accept must include text/event-stream'));
  const made = host.newSession(req.socket.remoteAddress ?? '', req.socket.remotePort ?? 0, identityOf(req));
  if (made instanceof ProxyError) return refuse(res, made);
  const s = made;
  const stream: SseWriter = new SseWriter(res, {}, () => s.closedGet(stream));
  stream.named('endpoint', `${path.slice(0, -'sse'.length)}message?sessionId=${s.session.id}`);
  s.openLegacy(stream);
}

function onMessage(host: BridgeHost, req: http.IncomingMessage, res: http.ServerResponse): void {
  const sid = legacySessionId(req.url ?? '');
  if (sid === null) {
    req.resume();
    return refuse(res, new SessionMissingError('Bad Request: a legacy SSE message needs ?sessionId= (from the endpoint event)'));
  }
  const found = ownedBy(req, host.sessionFor(sid));
  if (found === undefined) {
    req.resume();
    return refuse(res, new SessionNotFoundError());
  }
  readMessages(host, req, res, (m) => deliver(host, res, found, m, streamReply(res)));
}

const accepted = (res: http.ServerResponse): void => void res.writeHead(202, { 'content-type': 'text/plain' }).end('Accepted');

/** A legacy POST is acknowledged at once; what it gets goes on the session's stream. */
function streamReply(res: http.ServerResponse): Reply {
  return {
    mocked: (s, body) => {
      accepted(res);
      if (body !== null) s.toGetStream(body.toString('utf8'));
    },
    accepted: () => accepted(res),
    answer: (s, requests) => {
      accepted(res);
      return new StreamAnswer(s, requests);
    },
  };
}

/** The requests of one legacy POST, answered on the session's stream. */
class StreamAnswer implements Answer {
  readonly streaming = false;
  readonly untouched = false;
  outstanding: number;
  readonly #owner: AnswerOwner & BridgeSession;
  #done = false;

  constructor(owner: BridgeSession, requests: number) {
    this.#owner = owner;
    this.outstanding = requests;
  }

  message(data: string, response: boolean): void {
    this.#owner.toGetStream(data);
    if (response && --this.outstanding <= 0) this.end();
  }

  failWhole(err: ProxyError, idJson: string | null): void {
    this.message(errorBody(err, idJson), true);
  }

  heartbeat(): void {
    // The session's stream has its own.
  }

  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#owner.answered(this);
  }
}
