// The answers the corridor writes itself instead of the upstream: a CORS preflight, the
// RFC 9728 protected-resource document, and a decider's answer to a held request. Error
// answers are http/error-response.ts's.

/** What a CORS preflight answer allows, besides the origin. */
const PREFLIGHT_LINES = 'Access-Control-Allow-Methods: GET, POST, DELETE, OPTIONS\r\n'
  + 'Access-Control-Allow-Headers: Content-Type, Accept, Authorization, X-API-Key, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID\r\n'
  + 'Access-Control-Max-Age: 600\r\n';

/** The 204 to a browser's preflight from an allowed origin (`cors`: its --cors lines); the connection closes after. */
export function preflightAnswer(cors: string): Buffer {
  return Buffer.from(`HTTP/1.1 204 No Content\r\n${cors}${PREFLIGHT_LINES}Content-Length: 0\r\nConnection: close\r\n\r\n`, 'latin1');
}

/** The 200 carrying the RFC 9728 document `doc` (JSON); the connection closes after. */
export function metadataAnswer(doc: string, cors: string | null): Buffer {
  const body = Buffer.from(doc, 'utf8');
  const head = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${cors ?? ''}Connection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** A decider's answer to a held request: its JSON-RPC response, or 202 for a notification (`body` null). */
export function policyAnswer(body: Buffer | null, cors: string | null, connection: string): Buffer {
  const lines = `${cors ?? ''}${connection}`;
  if (body === null) return Buffer.from(`HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n${lines}\r\n`, 'latin1');
  return Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${lines}\r\n`, 'latin1'), body]);
}
