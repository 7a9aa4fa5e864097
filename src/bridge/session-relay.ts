// --workers with a stdio server: a bridged session lives in the worker that holds its child,
// but the shared port hands each new connection to any worker. So a worker names itself in
// the session ids it issues (the UUID's first 16 bits are its slot), listens on a private
// loopback port, and a request for another worker's session is piped there whole (POST
// bodies, answers, event streams, with backpressure both ways). The primary tells every
// worker the others' ports and a per-run secret that a relayed request must carry, so the
// private port serves no one else. A session whose worker is gone answers 404, as any
// session that ended, and the client starts a new one.

import http from 'node:http';
import { legacySessionId } from './sse-server.js';
import type { Logger } from '../observe/logger.js';
import { SessionNotFoundError } from '../errors.js';
import { errorResponseParts } from '../http/error-response.js';

/** The header a relayed request carries the run's secret in. */
const SECRET_HEADER = 'x-shadowcat-relay';
/** Headers of one hop that are not passed along. */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', SECRET_HEADER]);

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** The worker slot a session id names (its first four hex digits), or -1. */
export function slotOf(sid: string): number {
  if (sid.length !== 36) return -1;
  let slot = 0;
  for (let i = 0; i < 4; i++) {
    const d = hexDigit(sid.charCodeAt(i));
    if (d < 0) return -1;
    slot = slot * 16 + d;
  }
  return slot;
}

function forwardHeaders(raw: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined && !HOP.has(k)) out[k] = v;
  return out;
}

/** Routes requests for other workers' sessions to their owners, and admits the ones relayed here. */
export class SessionRelay {
  /** This worker's slot: the tag in the ids of the sessions it issues. */
  readonly slot: number;
  readonly #log: Logger;
  #ports: readonly (number | null)[] = [];
  #secret: string | null = null;
  readonly #agent = new http.Agent({ keepAlive: true });
  readonly #relayed: () => void;

  constructor(slot: number, log: Logger, relayed: () => void) {
    this.slot = slot;
    this.#log = log;
    this.#relayed = relayed;
  }

  /** The other workers' private ports by slot, and the run's secret (from the primary). */
  setPeers(ports: readonly (number | null)[], secret: string): void {
    this.#ports = ports;
    this.#secret = secret;
  }

  /** Whether a request arriving on the private port was sent by a worker of this run. */
  admits(req: http.IncomingMessage): boolean {
    return this.#secret !== null && req.headers[SECRET_HEADER] === this.#secret;
  }

  /** Takes the request when its session belongs to another worker; false leaves it to this one. */
  take(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    // A legacy SSE client names its session in the query of its POSTs.
    const sid = req.headers['mcp-session-id'] ?? legacySessionId(req.url ?? '');
    if (typeof sid !== 'string') return false;
    const slot = slotOf(sid);
    if (slot < 0 || slot === this.slot || slot >= this.#ports.length) return false;
    const port = this.#ports[slot] ?? null;
    if (port === null || this.#secret === null) {
      // Its worker is gone (or being started again): so is the session.
      req.resume();
      gone(res);
      return true;
    }
    this.#relayed();
    this.#pipe(req, res, port, this.#secret);
    return true;
  }

  #pipe(req: http.IncomingMessage, res: http.ServerResponse, port: number, secret: string): void {
    const headers = forwardHeaders(req.headers);
    headers[SECRET_HEADER] = secret;
    const out = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers, agent: this.#agent });
    out.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, forwardHeaders(answer.headers));
      // Event streams are passed on as they come: nothing waits for a full buffer.
      res.flushHeaders();
      answer.pipe(res);
      answer.once('aborted', () => res.destroy());
    });
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (res.headersSent) return void res.destroy();
      this.#log.debug({ sid: req.headers['mcp-session-id'], err: err.code ?? err.message }, 'relay to the session\'s worker failed');
      req.resume();
      gone(res);
    });
    // A client that goes away ends the relayed request, so the owner sees its stream close.
    res.once('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    req.pipe(out);
  }

  /** Frees the relay's idle connections. */
  close(): void {
    this.#agent.destroy();
  }
}

function gone(res: http.ServerResponse): void {
  const { status, headers, body } = errorResponseParts(new SessionNotFoundError(), null);
  res.writeHead(status, headers).end(body);
}
