// The control plane (docs/reference.md "Admin API"): health, metrics, the policy in force, and sessions to list or close.
// node:http is fine here; it is never in the data path.

import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { Registry } from '../session/registry.js';
import type { Metrics } from './metrics.js';

/** What the admin routes read and control: one process's registry and metrics, or (--workers) every worker's. */
export interface AdminView {
  metrics(): Promise<{ readonly text: string; readonly contentType: string }>;
  /** Sessions as JSON-ready objects; `mcp`: only the connections of that MCP session. */
  sessions(mcp: string | null): Promise<readonly unknown[]>;
  session(id: string): Promise<unknown>;
  /** Closes a session; false when unknown. */
  closeSession(id: string): Promise<boolean>;
  /** The rules in force (GET /policy), or null without --policy. */
  policy(): Promise<unknown>;
  /** Conformance lint counts and latest examples (GET /conformance). */
  conformance(): Promise<unknown>;
}

/** What the admin API needs. */
export interface AdminDeps {
  readonly view: AdminView;
  /** Every request must carry `Authorization: Bearer <token>` when set. */
  readonly token: string | null;
  /** Settings that weaken the proxy (e.g. unverified upstream TLS), shown by /healthz. */
  readonly warnings: readonly string[];
  isDraining(): boolean;
}

/** The view of one process. */
export function localView(registry: Registry, metrics: Metrics, policy: () => object | null, conformance: () => unknown): AdminView {
  return {
    metrics: async () => ({ text: await metrics.render(), contentType: metrics.registry.contentType }),
    sessions: async (mcp) => (mcp === null ? registry.list() : registry.byMcpSession(mcp)),
    session: async (id) => registry.get(id),
    closeSession: async (id) => {
      const s = registry.get(id);
      if (s === undefined) return false;
      s.close('admin');
      return true;
    },
    policy: async () => policy(),
    conformance: async () => conformance(),
  };
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** A check of the Authorization header in constant time (both sides hashed to one length first). */
function bearerCheck(token: string): (header: string | undefined) => boolean {
  const want = digest(`Bearer ${token}`);
  return (header) => header !== undefined && timingSafeEqual(digest(header), want);
}

function send(res: http.ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

/** An http.Server serving the admin routes; the caller listens and closes it. */
export function createAdminServer(deps: AdminDeps): http.Server {
  const authorized = deps.token === null ? null : bearerCheck(deps.token);
  const server = http.createServer((req, res) => {
    if (authorized !== null && !authorized(req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Bearer realm="shadowcat admin"');
      return send(res, 401, JSON.stringify({ error: 'unauthorized' }));
    }
    let path: string;
    let query: URLSearchParams;
    try {
      const url = new URL(req.url ?? '/', 'http://admin');
      path = url.pathname;
      query = url.searchParams;
    } catch {
      return send(res, 400, JSON.stringify({ error: 'bad request target' }));
    }
    if (req.method === 'GET' && path === '/healthz') {
      const draining = deps.isDraining();
      const body: Record<string, unknown> = { status: draining ? 'draining' : 'ok' };
      if (deps.warnings.length > 0) body.warnings = deps.warnings;
      return send(res, draining ? 503 : 200, JSON.stringify(body));
    }
    const view = deps.view;
    const fail = (err: unknown): void => send(res, 500, JSON.stringify({ error: String(err) }));
    if (req.method === 'GET' && path === '/metrics') {
      view.metrics().then((m) => send(res, 200, m.text, m.contentType), fail);
      return;
    }
    if (req.method === 'GET' && path === '/conformance') {
      view.conformance().then((c) => send(res, 200, JSON.stringify(c)), fail);
      return;
    }
    if (req.method === 'GET' && path === '/policy') {
      view.policy().then((snapshot) => (snapshot === null
        ? send(res, 404, JSON.stringify({ error: 'no policy loaded (--policy FILE)' }))
        : send(res, 200, JSON.stringify(snapshot))), fail);
      return;
    }
    if (path === '/sessions' && req.method === 'GET') {
      // ?mcpSessionId= lists the connections (POSTs, the GET stream) of one MCP session.
      view.sessions(query.get('mcpSessionId')).then((list) => send(res, 200, JSON.stringify(list)), fail);
      return;
    }
    const m = /^\/sessions\/([A-Za-z0-9_-]+)$/.exec(path);
    if (m !== null) {
      const id = m[1]!;
      if (req.method === 'GET') {
        view.session(id).then((session) => (session === undefined
          ? send(res, 404, JSON.stringify({ error: 'no such session' }))
          : send(res, 200, JSON.stringify(session))), fail);
        return;
      }
      if (req.method === 'DELETE') {
        view.closeSession(id).then((closed) => {
          if (!closed) return send(res, 404, JSON.stringify({ error: 'no such session' }));
          res.writeHead(204);
          res.end();
        }, fail);
        return;
      }
      return send(res, 405, JSON.stringify({ error: 'method not allowed' }));
    }
    send(res, 404, JSON.stringify({ error: 'not found' }));
  });
  server.keepAliveTimeout = 5000;
  return server;
}
