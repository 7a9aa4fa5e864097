// The POSTs --recover-sessions sends to set a session up again: through the same client kit
// as the bridge's remote transports (Node's CA store plus --upstream-ca, --upstream-insecure),
// one connection per POST (a recovery is rare), the answer's body read and dropped.

import type { HeaderLine } from '../config.js';
import { httpClientKit, requestOnce } from './http-agent.js';

/** Where and how the handshake reaches the upstream. */
export interface HandshakeTarget {
  readonly url: URL;
  readonly headers: readonly HeaderLine[];
  readonly ca: string | null;
  readonly verify: boolean;
  readonly timeoutMs: number;
}

/** A function that POSTs one handshake message to `target` and says what status and session id came back. */
export function handshakePost(target: HandshakeTarget): (body: Buffer, sessionId: string | null) => Promise<{ status: number; sessionId: string | null }> {
  const kit = httpClientKit(target.url, target.ca, target.verify, false);
  return (body, sessionId) => {
    const headers: Record<string, string> = {
      'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': String(body.length),
    };
    for (const h of target.headers) headers[h.name.toLowerCase()] = h.value;
    if (sessionId !== null) headers['mcp-session-id'] = sessionId;
    return requestOnce(kit, target.url, { method: 'POST', headers, body, timeoutMs: target.timeoutMs, keepBytes: 0 }).then((a) => {
      const sid = a.headers['mcp-session-id'];
      return { status: a.status, sessionId: typeof sid === 'string' ? sid : null };
    });
  };
}
