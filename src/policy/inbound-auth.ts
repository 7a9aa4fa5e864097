// Inbound credentials as an app uses them (both paths of forward http): --auth-keys checked
// on every request (Authorization: Bearer KEY or X-API-Key: KEY), a 401 with
// WWW-Authenticate naming the RFC 9728 protected-resource document otherwise, that document
// served, failures counted (shadowcat_auth_failures_total{reason}) and logged at most once a
// second per client address. The credential itself is never logged or kept: the session
// keeps the key's name as its subject.

import type { Config } from '../config.js';
import { UnauthorizedError, type ProxyError } from '../errors.js';
import { LogThrottle } from '../observe/log-throttle.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import { KeyAuth } from './auth-keys.js';

/** Where the RFC 9728 protected-resource document is served. */
export const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/** Request headers that carry a client's credential for the proxy, removed before the upstream. */
export const CLIENT_CREDENTIAL_HEADERS: readonly string[] = Object.freeze(['authorization', 'x-api-key']);

/** What an app's transports call. */
export interface InboundAuth {
  /** The subject (the key's name), or the 401 the request gets. */
  authenticate(authorization: string | null, apiKey: string | null, host: string | null, clientIp: string): string | ProxyError;
  /** True for a request of the protected-resource document (served without a credential). */
  isMetadataPath(target: string): boolean;
  /** The document, as JSON text, for a request that named `host`. */
  metadata(host: string | null): string;
  /** Re-reads the key file (SIGHUP). */
  reload(why: string): boolean;
  watch(): void;
  close(): void;
}

const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;
const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** The checks for `config`, or null when no credential is asked for (nothing is added to a request's path then). */
export function inboundAuth(config: Config, metrics: Metrics, log: Logger): InboundAuth | null {
  if (config.authKeys === null) return null;
  const keys = new KeyAuth(config.authKeys, log);
  const throttle = new LogThrottle();
  const resourcePath = config.upstreamUrl !== null && config.upstreamUrl.pathname !== '/' ? config.upstreamUrl.pathname : '/mcp';
  // The Host a client named, when it is a plain host[:port] (it goes into a quoted header parameter), else the listen address.
  const base = (host: string | null): string => `http://${host !== null && HOST.test(host) ? host : `${config.host}:${config.port}`}`;
  const refuse = (reason: 'missing' | 'invalid', host: string | null, clientIp: string): ProxyError => {
    metrics.authFailures.labels(reason).inc();
    const skipped = throttle.allow(clientIp);
    if (skipped !== null) log.warn({ client: clientIp, reason, skipped: skipped || undefined }, 'request refused: no valid credential');
    const challenge = `Bearer resource_metadata="${base(host)}${RESOURCE_METADATA_PATH}"${reason === 'invalid' ? ', error="invalid_token"' : ''}`;
    return new UnauthorizedError(reason === 'missing'
      ? 'Unauthorized: send a key as Authorization: Bearer KEY or X-API-Key: KEY'
      : 'Unauthorized: the key is not valid', challenge);
  };
  return {
    authenticate(authorization, apiKey, host, clientIp) {
      let presented: string | null = apiKey;
      if (authorization !== null) {
        const m = BEARER.exec(authorization);
        if (m === null) return refuse('invalid', host, clientIp);
        presented = m[1]!;
      }
      if (presented === null || presented === '') return refuse('missing', host, clientIp);
      return keys.verify(presented) ?? refuse('invalid', host, clientIp);
    },
    isMetadataPath: (target) => target === RESOURCE_METADATA_PATH || target.startsWith(`${RESOURCE_METADATA_PATH}/`),
    metadata: (host) => JSON.stringify({ resource: `${base(host)}${resourcePath}`, bearer_methods_supported: ['header'], resource_name: 'shadowcat' }),
    reload: (why) => keys.reload(why),
    watch: () => keys.watch(),
    close: () => keys.close(),
  };
}
