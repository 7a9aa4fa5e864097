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

/** The error a client sees for a failed connection to a remote server. */
export function connectFailure(err: NodeJS.ErrnoException): ProxyError {
  const code = err.code ?? '';
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'EPROTO' || code === 'DEPTH_ZERO_SELF_SIGNED_CERT') return new UpstreamTlsError(`TLS with the upstream failed: ${code || err.message}`, err);
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EAI_AGAIN') return new UpstreamUnreachableError(`upstream unreachable: ${code}`, err);
  return new UpstreamBrokenError(`upstream connection failed: ${code || err.message}`, err);
}
