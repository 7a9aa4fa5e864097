// Inbound credentials as an app uses them (both paths of forward http): --auth-keys,
// --auth-jwt and an embedder's hook, checked on every request (Authorization: Bearer
// CREDENTIAL, or X-API-Key: KEY); a 401 with WWW-Authenticate naming the RFC 9728
// protected-resource document otherwise (403 insufficient_scope for a token without the
// --auth-scopes), that document served, failures counted (shadowcat_auth_failures_total
// {reason}) and logged at most once a second per client address. The credential itself is
// never logged or kept: the session keeps the identity it proved.

import type { Config } from '../config.js';
import { InsufficientScopeError, UnauthorizedError, type ProxyError } from '../errors.js';
import { LogThrottle } from '../observe/log-throttle.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import { KeyAuth } from './auth-keys.js';
import { JwtAuth, type JwtRefusal } from './auth-jwt.js';
import { isSubject, named, type Identity } from '../session/identity.js';

/** Where the RFC 9728 protected-resource document is served. */
export const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/** Request headers that carry a client's credential for the proxy, removed before the upstream. */
export const CLIENT_CREDENTIAL_HEADERS: readonly string[] = Object.freeze(['authorization', 'x-api-key']);

/** What a request shows an embedder's hook. */
export interface AuthRequest {
  readonly authorization: string | null;
  readonly apiKey: string | null;
  readonly clientIp: string;
}

/** An embedder's scheme: the caller's subject, or null to refuse (401). */
export type AuthHook = (request: AuthRequest) => string | null | Promise<string | null>;

/** A request's identity, or the error it is answered with. */
export type AuthOutcome = Identity | ProxyError;

/** What an app's transports call. */
export interface InboundAuth {
  /** The identity, or the 401/403 the request gets; a promise only while a token is verified for the first time. */
  authenticate(authorization: string | null, apiKey: string | null, host: string | null, clientIp: string): AuthOutcome | Promise<AuthOutcome>;
  /** True for a request of the protected-resource document (served without a credential). */
  isMetadataPath(target: string): boolean;
  /** The document, as JSON text, for a request that named `host`. */
  metadata(host: string | null): string;
  /** Re-reads the key file and the key set (SIGHUP); false when the key file failed. */
  reload(why: string): boolean;
  watch(): void;
  close(): void;
}

const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;
const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

type Reason = 'missing' | 'invalid' | JwtRefusal['reason'];

/** The checks for `config` (and an embedder's hook), or null when no credential is asked for (nothing is added to a request's path then). */
export function inboundAuth(config: Config, metrics: Metrics, log: Logger, hook: AuthHook | null = null): InboundAuth | null {
  if (config.authKeys === null && !config.authJwt && hook === null) return null;
  const keys = config.authKeys === null ? null : new KeyAuth(config.authKeys, log);
  const jwt = !config.authJwt ? null : new JwtAuth(
    { jwks: config.authJwks!, issuer: config.authIssuer!, audience: config.authAudience!, scopes: config.authScopes },
    { ca: config.upstreamCa, verify: !config.upstreamInsecure }, log);
  jwt?.start();
  const throttle = new LogThrottle();
  const resourcePath = config.upstreamUrl !== null && config.upstreamUrl.pathname !== '/' ? config.upstreamUrl.pathname : '/mcp';
  // The Host a client named, when it is a plain host[:port] (it goes into a quoted header parameter), else the listen address.
  const base = (host: string | null): string => `http://${host !== null && HOST.test(host) ? host : `${config.host}:${config.port}`}`;
  const what = [keys !== null ? 'Authorization: Bearer KEY or X-API-Key: KEY' : null, jwt !== null ? 'Authorization: Bearer TOKEN (a JWT from the issuer)' : null]
    .filter((x) => x !== null).join(', or ') || 'a credential';
  const refuse = (reason: Reason, host: string | null, clientIp: string, detail?: string, missing?: readonly string[]): ProxyError => {
    metrics.authFailures.labels(reason).inc();
    const skipped = throttle.allow(clientIp);
    if (skipped !== null) log.warn({ client: clientIp, reason, detail, skipped: skipped || undefined }, 'request refused: no valid credential');
    const doc = `resource_metadata="${base(host)}${RESOURCE_METADATA_PATH}"`;
    if (missing !== undefined) {
      return new InsufficientScopeError(missing, `Bearer error="insufficient_scope", scope="${config.authScopes.join(' ')}", ${doc}`);
    }
    const challenge = `Bearer ${doc}${reason === 'missing' ? '' : ', error="invalid_token"'}`;
    return new UnauthorizedError(reason === 'missing' ? `Unauthorized: send ${what}`
      : reason === 'expired' ? 'Unauthorized: the token has expired'
        : reason === 'jwks_unavailable' ? 'Unauthorized: the token cannot be checked now (the issuer\'s keys are unavailable)'
          : 'Unauthorized: the credential is not valid', challenge);
  };
  const fromToken = (r: Identity | JwtRefusal, host: string | null, clientIp: string): AuthOutcome =>
    'subject' in r ? r : refuse(r.reason, host, clientIp, r.detail, r.missing);
  const fromHook = (request: AuthRequest, host: string | null): AuthOutcome | Promise<AuthOutcome> => {
    const settle = (subject: string | null): AuthOutcome => {
      if (subject === null || subject === undefined) return refuse(request.authorization === null && request.apiKey === null ? 'missing' : 'invalid', host, request.clientIp);
      // It names the caller in logs, /sessions, tapes and limit keys: printable text only (fail closed).
      if (!isSubject(subject)) return refuse('invalid', host, request.clientIp, 'the authenticate hook returned a subject that is not printable text of 1 to 256 characters');
      return named(subject);
    };
    const failed = (err: unknown): AuthOutcome => refuse('invalid', host, request.clientIp, `the authenticate hook threw: ${(err as Error)?.message ?? String(err)}`);
    try {
      const r = hook!(request);
      return r instanceof Promise ? r.then(settle, failed) : settle(r);
    } catch (err) {
      return failed(err);
    }
  };
  const docText = (host: string | null): string => JSON.stringify({
    resource: `${base(host)}${resourcePath}`,
    ...(config.authIssuer === null ? {} : { authorization_servers: [config.authIssuer] }),
    ...(config.authScopes.length === 0 ? {} : { scopes_supported: config.authScopes }),
    bearer_methods_supported: ['header'],
    resource_name: 'shadowcat',
  });
  return {
    authenticate(authorization, apiKey, host, clientIp) {
      let bearer: string | null = null;
      if (authorization !== null) {
        const m = BEARER.exec(authorization);
        if (m !== null) bearer = m[1]!;
        else if (hook === null) return refuse('invalid', host, clientIp);
      }
      const presented = bearer ?? apiKey;
      if (keys !== null && presented !== null && presented !== '') {
        const found = keys.verify(presented);
        if (found !== null) return found;
      }
      if (jwt !== null && bearer !== null && JwtAuth.looksLikeJwt(bearer)) {
        const r = jwt.verify(bearer);
        return r instanceof Promise ? r.then((v) => fromToken(v, host, clientIp)) : fromToken(r, host, clientIp);
      }
      if (hook !== null) return fromHook({ authorization, apiKey, clientIp }, host);
      return refuse(presented === null || presented === '' ? 'missing' : 'invalid', host, clientIp);
    },
    isMetadataPath: (target) => target === RESOURCE_METADATA_PATH || target.startsWith(`${RESOURCE_METADATA_PATH}/`),
    metadata: docText,
    reload: (why) => {
      jwt?.reload(why);
      return keys?.reload(why) ?? true;
    },
    watch: () => {
      keys?.watch();
      jwt?.watch();
    },
    close: () => {
      keys?.close();
      jwt?.close();
    },
  };
}
