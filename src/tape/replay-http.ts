// `shadowcat replay TAPE|DIR --port P`: tapes played back as a Streamable HTTP MCP server.
// A test double, not the data path, so node:http serves it. initialize gets the recorded
// result and a fresh session id (when the recorded upstream issued one); each request the
// recorded answer with its notifications and framing (replay.ts); notifications and
// client responses 202; GET the session's recorded GET-stream messages, then stays open;
// DELETE ends the session.

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../observe/logger.js';
import type { CallBook, Played, RecordedSession } from './book.js';
import { Cursors, replyTo, type Reply, type Timing } from './replay.js';

/** A client session of the replay server. */
class ReplaySession {
  readonly cursors = new Cursors();
  /** Responses still being written (event streams, delayed answers): ended with the session. */
  readonly open = new Set<http.ServerResponse>();
  constructor(readonly id: string | null, readonly recorded: RecordedSession | null) {}
}

const MAX_BODY = 16 * 1024 * 1024;

/** The running replay server. */
export interface ReplayServer {
  readonly port: number;
  close(): Promise<void>;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function jsonRpcError(res: http.ServerResponse, status: number, code: number, message: string): void {
  sendJson(res, status, { jsonrpc: '2.0', id: null, error: { code, message } });
}

function sseEvent(p: Played): string {
  return `event: message\n${p.eventId === null ? '' : `id: ${p.eventId}\n`}data: ${JSON.stringify(p.msg)}\n\n`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Starts the replay server on host:port. */
export async function startReplayHttp(book: CallBook, opts: { host: string; port: number; timing: Timing; log: Logger }): Promise<ReplayServer> {
  const { timing, log } = opts;
  const sessions = new Map<string, ReplaySession>();
  // Stateless tapes (no Mcp-Session-Id was ever issued) share one session.
  const shared = new ReplaySession(null, null);

  /** Writes `messages` to `res` in order, each at its delay (timing recorded) from now; ends with the last. */
  const play = (res: http.ServerResponse, session: ReplaySession, messages: readonly Played[], end: boolean): void => {
    session.open.add(res);
    const started = performance.now();
    let i = 0;
    let timer: NodeJS.Timeout | null = null;
    const next = (): void => {
      timer = null;
      while (i < messages.length) {
        const wait = timing === 'fast' ? 0 : messages[i]!.at - (performance.now() - started);
        if (wait > 1) {
          timer = setTimeout(next, wait);
          return;
        }
        res.write(sseEvent(messages[i]!));
        i++;
      }
      if (end) res.end();
    };
    res.on('close', () => {
      if (timer !== null) clearTimeout(timer);
      session.open.delete(res);
    });
    next();
  };

  const answer = (res: http.ServerResponse, session: ReplaySession, reply: Reply, acceptsStream: boolean, headers: Record<string, string>): void => {
    if (reply.stream && acceptsStream) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
      play(res, session, reply.messages, true);
      return;
    }
    // One JSON body: only the answer goes, at its recorded time.
    const last = reply.messages[reply.messages.length - 1]!;
    const wait = timing === 'fast' ? 0 : last.at;
    if (wait <= 1) {
      sendJson(res, reply.status, last.msg, headers);
      return;
    }
    session.open.add(res);
    const timer = setTimeout(() => {
      session.open.delete(res);
      sendJson(res, reply.status, last.msg, headers);
    }, wait);
    res.on('close', () => {
      clearTimeout(timer);
      session.open.delete(res);
    });
  };

  /** The request's session; null after answering 400/404 itself. */
  const sessionOf = (req: http.IncomingMessage, res: http.ServerResponse): ReplaySession | null => {
    const id = req.headers['mcp-session-id'];
    if (typeof id !== 'string') {
      if (sessions.size === 0) return shared;
      jsonRpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
      return null;
    }
    const s = sessions.get(id);
    if (s === undefined) {
      jsonRpcError(res, 404, -32001, 'Session not found');
      return null;
    }
    return s;
  };

  const onPost = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      jsonRpcError(res, 400, -32700, 'Parse error');
      return;
    }
    const acceptsStream = (req.headers.accept ?? '').includes('text/event-stream');
    const list = Array.isArray(parsed) ? parsed : [parsed];
    if (list.length === 0 || !list.every(isObject)) {
      jsonRpcError(res, 400, -32600, 'Invalid Request');
      return;
    }
    const init = list.find((m) => m.method === 'initialize');
    if (init !== undefined) {
      const recorded = book.session((init.params as { protocolVersion?: unknown } | undefined)?.protocolVersion);
      if (recorded === null) {
        sendJson(res, 200, { jsonrpc: '2.0', id: init.id ?? null, error: { code: -32601, message: 'not in the tape: initialize (no tape holds a handshake)' } });
        return;
      }
      const id = recorded.stateful ? randomUUID() : null;
      const session = id === null ? new ReplaySession(null, recorded) : new ReplaySession(id, recorded);
      if (id !== null) sessions.set(id, session);
      log.info({ mcp: id ?? undefined, protocolVersion: recorded.protocolVersion }, 'replay: session initialised');
      answer(res, session, replyTo(book, session.cursors, init, recorded), acceptsStream, id === null ? {} : { 'mcp-session-id': id });
      return;
    }
    const session = sessionOf(req, res);
    if (session === null) return;
    const requests = list.filter((m) => typeof m.method === 'string' && 'id' in m);
    if (requests.length === 0) {
      // Notifications and the client's answers to server requests.
      res.writeHead(202).end();
      return;
    }
    if (requests.length === 1 && list.length === 1) {
      const r = replyTo(book, session.cursors, requests[0]!, session.recorded);
      log.debug({ mcp: session.id ?? undefined, method: requests[0]!.method }, 'replay: request');
      answer(res, session, r, acceptsStream, {});
      return;
    }
    // A batch: every answer at once, in one JSON array.
    sendJson(res, 200, requests.map((m) => {
      const r = replyTo(book, session.cursors, m, session.recorded);
      return r.messages[r.messages.length - 1]!.msg;
    }));
  };

  const server = http.createServer((req, res) => {
    if (req.method === 'POST') {
      const parts: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          jsonRpcError(res, 413, -32600, 'Request body too large');
          req.destroy();
          return;
        }
        parts.push(c);
      });
      req.on('end', () => {
        if (size <= MAX_BODY) onPost(req, res, Buffer.concat(parts));
      });
      return;
    }
    if (req.method === 'GET') {
      if (!(req.headers.accept ?? '').includes('text/event-stream')) {
        jsonRpcError(res, 406, -32000, 'Not Acceptable: Client must accept text/event-stream');
        return;
      }
      const session = sessionOf(req, res);
      if (session === null) return;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      // The stream stays open (as a server's does) after its recorded messages.
      res.flushHeaders();
      play(res, session, session.recorded?.getStream ?? [], false);
      return;
    }
    if (req.method === 'DELETE') {
      const session = sessionOf(req, res);
      if (session === null) return;
      if (session.id !== null) sessions.delete(session.id);
      for (const r of session.open) r.end();
      log.info({ mcp: session.id ?? undefined }, 'replay: session deleted');
      res.writeHead(200).end();
      return;
    }
    res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.removeListener('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      for (const s of [shared, ...sessions.values()]) for (const r of s.open) r.end();
      sessions.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
