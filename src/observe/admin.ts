// The control plane (SPEC "Admin API"): health, metrics, the policy in force, and sessions to list or close.
// node:http is fine here; it is never in the data path.

import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { Registry } from '../session/registry.js';
import type { Metrics } from './metrics.js';
import type { PolicySnapshot } from '../policy/policy.js';

/** What the admin API reads and controls. */
export interface AdminDeps {
  readonly registry: Registry;
  readonly metrics: Metrics;
  /** Every request must carry `Authorization: Bearer <token>` when set. */
  readonly token: string | null;
  /** Settings that weaken the proxy (e.g. unverified upstream TLS), shown by /healthz. */
  readonly warnings: readonly string[];
  isDraining(): boolean;
  /** The rules in force (GET /policy), or null without --policy. */
  policy(): PolicySnapshot | null;
  /** Conformance lint counts and latest examples (GET /conformance). */
  conformance(): unknown;
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
    if (req.method === 'GET' && path === '/metrics') {
      deps.metrics.render().then(
        (text) => send(res, 200, text, deps.metrics.registry.contentType),
        (err: unknown) => send(res, 500, JSON.stringify({ error: String(err) })),
      );
      return;
    }
    if (req.method === 'GET' && path === '/conformance') return send(res, 200, JSON.stringify(deps.conformance()));
    if (req.method === 'GET' && path === '/policy') {
      const snapshot = deps.policy();
      return snapshot === null ? send(res, 404, JSON.stringify({ error: 'no policy loaded (--policy FILE)' })) : send(res, 200, JSON.stringify(snapshot));
    }
    if (path === '/sessions' && req.method === 'GET') {
      // ?mcpSessionId= lists the connections (POSTs, the GET stream) of one MCP session.
      const mcp = query.get('mcpSessionId');
      return send(res, 200, JSON.stringify(mcp === null ? deps.registry.list() : deps.registry.byMcpSession(mcp)));
    }
    const m = /^\/sessions\/([A-Za-z0-9_-]+)$/.exec(path);
    if (m !== null) {
      const session = deps.registry.get(m[1]!);
      if (req.method === 'GET') {
        return session === undefined ? send(res, 404, JSON.stringify({ error: 'no such session' })) : send(res, 200, JSON.stringify(session));
      }
      if (req.method === 'DELETE') {
        if (session === undefined) return send(res, 404, JSON.stringify({ error: 'no such session' }));
        session.close('admin');
        res.writeHead(204);
        return res.end();
      }
      return send(res, 405, JSON.stringify({ error: 'method not allowed' }));
    }
    send(res, 404, JSON.stringify({ error: 'not found' }));
  });
  server.keepAliveTimeout = 5000;
  return server;
}
