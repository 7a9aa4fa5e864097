// The agent for every HTTP client the proxy runs itself (the bridge's remote Streamable HTTP
// and legacy SSE transports, session recovery's handshake, the --auth-jwks fetch): https
// with Node's CA store plus --upstream-ca and --upstream-insecure, or plain http.

import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { UpstreamBrokenError, UpstreamTlsError, UpstreamUnreachableError, type ProxyError } from '../errors.js';

/** An agent and the request function that goes with the URL's scheme. */
export interface HttpClientKit {
  readonly agent: http.Agent;
  readonly request: typeof http.request;
}

/** The agent for `url`: `ca` adds PEM certificates to Node's store; `verify` false skips certificate checks; `keepAlive` false for a rare request. */
export function httpClientKit(url: URL, ca: string | null, verify: boolean, keepAlive = true): HttpClientKit {
  if (url.protocol !== 'https:') return { agent: new http.Agent({ keepAlive }), request: http.request };
  return {
    agent: new https.Agent({ keepAlive, ca: ca === null ? undefined : [...tls.rootCertificates, ca], rejectUnauthorized: verify }),
    request: https.request,
  };
}

/** What one request of requestOnce got. */
export interface OnceAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The body, up to `keepBytes` (a longer one fails the request); empty when none is kept. */
  readonly body: Buffer;
}

/**
 * One request on `kit` off the data path (a key set, a recovery handshake): no whole answer
 * within `timeoutMs` fails it, and a body over `keepBytes` fails it (0: the body is read and
 * dropped).
 */
export function requestOnce(kit: HttpClientKit, url: URL, opts: { method: string; headers: Record<string, string>; body?: Buffer; timeoutMs: number; keepBytes: number }): Promise<OnceAnswer> {
  return new Promise((resolve, reject) => {
    const req = kit.request(url, { method: opts.method, headers: opts.headers, agent: kit.agent }, (res) => {
      const parts: Buffer[] = [];
      let bytes = 0;
      res.on('data', (b: Buffer) => {
        if (opts.keepBytes === 0) return;
        bytes += b.length;
        if (bytes > opts.keepBytes) return void req.destroy(new Error(`answer larger than ${opts.keepBytes} bytes`));
        parts.push(b);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) });
      });
      res.on('error', fail);
    });
    // The whole exchange, not the socket's quiet: a server that trickles its answer is cut too.
    const timer = setTimeout(() => req.destroy(new Error(`no whole answer in ${opts.timeoutMs} ms`)), opts.timeoutMs);
    function fail(err: Error): void {
      clearTimeout(timer);
      reject(err);
    }
    req.on('error', fail);
    req.end(opts.body);
  });
}

/** The error a client sees for a failed connection to a remote server. */
export function connectFailure(err: NodeJS.ErrnoException): ProxyError {
  const code = err.code ?? '';
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'EPROTO' || code === 'DEPTH_ZERO_SELF_SIGNED_CERT') return new UpstreamTlsError(`TLS with the upstream failed: ${code || err.message}`, err);
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EAI_AGAIN') return new UpstreamUnreachableError(`upstream unreachable: ${code}`, err);
  return new UpstreamBrokenError(`upstream connection failed: ${code || err.message}`, err);
}
