// The embedded demo MCP server: a small Streamable HTTP server (protocol 2025-06-18)
// with one `echo` tool, so `make run` has an upstream to show. It is an upstream, not
// part of the proxy's data path, so node:http is fine here.

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const PROTOCOL_VERSIONS = ['2025-06-18', '2025-03-26', '2024-11-05'];
const MAX_BODY_BYTES = 4 * 1024 * 1024;

interface JsonRpcMessage {
  jsonrpc?: unknown;
  id?: unknown;
  method?: unknown;
  params?: unknown;
}

/** A running demo server. */
export interface DemoServer {
  readonly port: number;
  /** The URL to forward to (path /mcp). */
  readonly url: URL;
  close(): Promise<void>;
}

const ECHO_TOOL = {
  name: 'echo',
  description: 'Echoes back the message it is given',
  inputSchema: { type: 'object', properties: { message: { type: 'string', description: 'Text to echo' } }, required: ['message'] },
};

function rpcError(id: unknown, code: number, message: string): Record<string, unknown> {
  return { jsonrpc: '2.0', id: id ?? null, error: { code, message } };
}

function answer(msg: JsonRpcMessage): Record<string, unknown> | null {
  if (msg.id === undefined || msg.id === null) return null; // a notification or a response: nothing to say
  const params = (typeof msg.params === 'object' && msg.params !== null ? msg.params : {}) as Record<string, unknown>;
  switch (msg.method) {
    case 'initialize': {
      const asked = typeof params.protocolVersion === 'string' ? params.protocolVersion : PROTOCOL_VERSIONS[0]!;
      return {
        jsonrpc: '2.0', id: msg.id,
        result: {
          protocolVersion: PROTOCOL_VERSIONS.includes(asked) ? asked : PROTOCOL_VERSIONS[0],
          capabilities: { tools: { listChanged: false } },
          serverInfo: { name: 'shadowcat-demo', version: '1.0.0' },
          instructions: 'A demo server behind shadowcat. Try tools/call with the echo tool.',
        },
      };
    }
    case 'ping':
      return { jsonrpc: '2.0', id: msg.id, result: {} };
    case 'tools/list':
      return { jsonrpc: '2.0', id: msg.id, result: { tools: [ECHO_TOOL] } };
    case 'tools/call': {
      if (params.name !== 'echo') return rpcError(msg.id, -32602, `unknown tool: ${String(params.name)}`);
      const args = (typeof params.arguments === 'object' && params.arguments !== null ? params.arguments : {}) as Record<string, unknown>;
      if (typeof args.message !== 'string') return rpcError(msg.id, -32602, 'echo needs a string "message"');
      return { jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: `Echo: ${args.message}` }] } };
    }
    default:
      return rpcError(msg.id, -32601, `method not found: ${String(msg.method)}`);
  }
}

/** Starts the demo MCP server on 127.0.0.1 (port 0 = any free port). */
export async function startDemoServer(port = 0): Promise<DemoServer> {
  const sessions = new Set<string>();
  const streams = new Set<http.ServerResponse>();

  const server = http.createServer((req, res) => {
    const sid = req.headers['mcp-session-id'];
    const sessionId = typeof sid === 'string' ? sid : undefined;
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/mcp' && path !== '/') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify(rpcError(null, -32000, 'not found: use /mcp')));
      return;
    }
    if (req.method === 'GET') {
      if (sessionId === undefined || !sessions.has(sessionId)) {
        res.writeHead(sessionId === undefined ? 400 : 404, { 'content-type': 'application/json' })
          .end(JSON.stringify(rpcError(null, -32000, 'a GET stream needs a valid Mcp-Session-Id')));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'mcp-session-id': sessionId });
      res.write(': stream open\n\n');
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    if (req.method === 'DELETE') {
      const known = sessionId !== undefined && sessions.delete(sessionId);
      res.writeHead(known ? 200 : 404, { 'content-type': 'application/json' }).end(known ? '{}' : JSON.stringify(rpcError(null, -32001, 'session not found')));
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify(rpcError(null, -32700, 'parse error')));
        return;
      }
      const batch = Array.isArray(parsed);
      const messages = (batch ? parsed : [parsed]) as JsonRpcMessage[];
      const isInit = messages.some((m) => m.method === 'initialize');
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (isInit) {
        const id = randomUUID();
        sessions.add(id);
        headers['mcp-session-id'] = id;
      } else if (sessionId === undefined) {
        res.writeHead(400, headers).end(JSON.stringify(rpcError(null, -32000, 'Bad Request: Mcp-Session-Id header is required')));
        return;
      } else if (!sessions.has(sessionId)) {
        res.writeHead(404, headers).end(JSON.stringify(rpcError(null, -32001, 'Session not found')));
        return;
      }
      const answers = messages.map(answer).filter((a): a is Record<string, unknown> => a !== null);
      if (answers.length === 0) {
        res.writeHead(202).end();
        return;
      }
      res.writeHead(200, headers).end(JSON.stringify(batch ? answers : answers[0]));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    url: new URL(`http://127.0.0.1:${actual}/mcp`),
    close: () => new Promise<void>((resolve) => {
      for (const s of streams) s.end();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
