// --auth-jwt: a bearer token is a JWT verified by jose (signature against --auth-jwks,
// `iss`, `aud`, `exp`/`nbf` with 60 s of clock skew, an allow-list of asymmetric
// algorithms: never `none`, never HMAC, so a public key cannot be used as a shared secret),
// with a `sub` (the subject) and the --auth-scopes it must carry in `scope` or `scp`.
// Verifying is asynchronous (WebCrypto), so a token that passed is kept for a minute (never
// past its `exp`, never past a change of the key set): the next requests with it are
// answered without waiting. Nothing here
// parses a token or a key.

import { errors, jwtVerify, type JWTPayload } from 'jose';
import type { Logger } from '../observe/logger.js';
import { isSubject, type Identity } from '../session/identity.js';
import { JwksSource, type JwksFetchOptions } from './jwks-source.js';

const ALGORITHMS = Object.freeze(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);
const CLOCK_SKEW_S = 60;
/** How long a verified token is trusted without verifying it again. */
const KEEP_MS = 60_000;
/** Verified tokens kept at most (the oldest goes first). */
const KEEP_MAX = 10_000;

/** Why a token was refused: the metric's reason, and a word for the log (never the token). */
export interface JwtRefusal {
  readonly reason: 'invalid' | 'expired' | 'insufficient_scope' | 'jwks_unavailable';
  readonly detail: string;
  /** insufficient_scope: the scopes it lacks. */
  readonly missing?: readonly string[];
}

/** What --auth-jwt asks of a token. */
export interface JwtSettings {
  readonly jwks: string;
  readonly issuer: string;
  readonly audience: string;
  readonly scopes: readonly string[];
}

interface Kept {
  readonly identity: Identity;
  readonly until: number;
  /** The key set it was verified under (a key removed since must not keep it valid). */
  readonly generation: number;
}

/** The verifier of one proxy process. */
export class JwtAuth {
  readonly #settings: JwtSettings;
  readonly #keys: JwksSource;
  readonly #kept = new Map<string, Kept>();

  /** Reads a --auth-jwks file now (throws ConfigError on a bad one); a URL is fetched by start(). */
  constructor(settings: JwtSettings, fetch: JwksFetchOptions, log: Logger) {
    this.#settings = settings;
    this.#keys = new JwksSource(settings.jwks, fetch, log);
  }

  /** The key set's source (loads counted there). */
  get keys(): JwksSource {
    return this.#keys;
  }

  /** True when `text` has a JWT's shape (three base64url parts), so a key is not sent here. */
  static looksLikeJwt(text: string): boolean {
    const a = text.indexOf('.');
    return a > 0 && text.indexOf('.', a + 1) > a + 1 && text.indexOf('.', text.indexOf('.', a + 1) + 1) === -1;
  }

  /** The identity `token` proves: at once for a token verified in the last minute, else once jose has checked it. */
  verify(token: string): Identity | JwtRefusal | Promise<Identity | JwtRefusal> {
    const kept = this.#kept.get(token);
    if (kept !== undefined) {
      if (Date.now() < kept.until && kept.generation === this.#keys.generation) return kept.identity;
      this.#kept.delete(token);
    }
    return this.#check(token);
  }

  async #check(token: string): Promise<Identity | JwtRefusal> {
    const s = this.#settings;
    const generation = this.#keys.generation;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keys.getKey, {
        issuer: s.issuer, audience: s.audience, algorithms: [...ALGORITHMS], clockTolerance: CLOCK_SKEW_S, requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      return refusalOf(err);
    }
    const sub = payload.sub;
    if (!isSubject(sub)) return { reason: 'invalid', detail: 'sub is not printable text of 1 to 256 characters' };
    if (s.scopes.length > 0) {
      const held = scopesOf(payload);
      const missing = s.scopes.filter((x) => !held.has(x));
      if (missing.length > 0) return { reason: 'insufficient_scope', detail: `missing scope ${missing.join(' ')}`, missing };
    }
    const identity: Identity = Object.freeze({ subject: sub, claims: Object.freeze(payload) });
    if (this.#kept.size >= KEEP_MAX) this.#kept.delete(this.#kept.keys().next().value!);
    this.#kept.set(token, { identity, until: Math.min(Date.now() + KEEP_MS, (payload.exp ?? 0) * 1000), generation });
    return identity;
  }

  start(): void {
    this.#keys.start();
  }

  reload(why: string): void {
    this.#kept.clear();
    this.#keys.reload(why);
  }

  /** Reloads a --auth-jwks file when it changes (tokens verified with the old set are checked again). */
  watch(): void {
    this.#keys.watch(() => this.reload('file changed'));
  }

  close(): void {
    this.#kept.clear();
    this.#keys.close();
  }
}

/** The scopes a token carries: `scope` (space-separated, RFC 9068) or `scp` (a list or a string). */
function scopesOf(payload: JWTPayload): Set<string> {
  const out = new Set<string>();
  const add = (v: unknown): void => {
    if (typeof v === 'string') {
      for (const x of v.split(' ')) if (x !== '') out.add(x);
    } else if (Array.isArray(v)) {
      for (const x of v) if (typeof x === 'string') out.add(x);
    }
  };
  add(payload.scope);
  add(payload.scp);
  return out;
}

function refusalOf(err: unknown): JwtRefusal {
  if (err instanceof errors.JWTExpired) return { reason: 'expired', detail: 'token expired' };
  const code = (err as { code?: string }).code ?? 'error';
  if (code === 'ERR_SHADOWCAT_JWKS_UNAVAILABLE') return { reason: 'jwks_unavailable', detail: (err as Error).message };
  if (err instanceof errors.JWTClaimValidationFailed) return { reason: 'invalid', detail: `claim ${err.claim} ${err.reason}` };
  return { reason: 'invalid', detail: code };
}
