// Small upstreams written for the tests: node:http and node:net servers on 127.0.0.1:0
// that count the connections they accept and close everything on close().

import http from 'node:http';
import type { Test } from 'uvu';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

/** A test server with connection accounting. */
export interface TestServer {
  readonly port: number;
  readonly url: string;
  /** Connections accepted so far. */
  readonly accepted: () => number;
  /** Connections open now. */
  readonly open: () => number;
  close(): Promise<void>;
}

function track(server: net.Server): { accepted: () => number; open: () => number; sockets: Set<net.Socket> } {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return { accepted: () => accepted, open: () => sockets.size, sockets };
}

/** Listens on 127.0.0.1:0 and returns the TestServer view of `server`. */
async function serve(server: net.Server): Promise<TestServer> {
  const t = track(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    accepted: t.accepted,
    open: t.open,
    close: () => new Promise<void>((r) => {
      for (const s of t.sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

/** A node:http upstream running `handler`. */
export async function startHttpUpstream(handler: http.RequestListener, setup?: (server: http.Server) => void): Promise<TestServer> {
  const server = http.createServer({ keepAliveTimeout: 30_000 }, handler);
  setup?.(server);
  return serve(server);
}

/** A node:net upstream calling `onConnection` for each socket. */
export async function startNetUpstream(onConnection: (s: net.Socket) => void): Promise<TestServer> {
  return serve(net.createServer({ allowHalfOpen: true }, onConnection));
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Reads a request body whole (tests only). */
export function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/** An MCP-shaped upstream that answers every POST with an initialize result and keeps each request's headers in `seen`. */
export function startRecordingUpstream(seen: Array<Record<string, unknown>>): Promise<TestServer> {
  return startHttpUpstream(async (req, res) => {
    seen.push({ ...req.headers });
    await readBody(req);
    res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'up-1' })
      .end('{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"up","version":"1"}}}');
  });
}

/** A recording upstream (startRecordingUpstream) for a whole suite: started before it, closed after it; `mcpUrl()` is where it answers. */
export function recordingUpstreamFor(s: Test): { readonly seen: Array<Record<string, unknown>>; mcpUrl(): URL } {
  const seen: Array<Record<string, unknown>> = [];
  let server: TestServer | null = null;
  s.before(async () => {
    server = await startRecordingUpstream(seen);
  });
  s.after(async () => {
    await server?.close();
  });
  return { seen, mcpUrl: () => new URL(`http://127.0.0.1:${server!.port}/mcp`) };
}
