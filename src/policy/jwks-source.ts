// --auth-jwks: the key set bearer JWTs are checked against, an https URL or a file. The set
// is turned into keys by jose (createLocalJWKSet): nothing here reads a key. A URL is fetched
// with the upstream TLS options (--upstream-ca, --upstream-insecure), kept, fetched again in
// the background once it is ten minutes old, and at once for a key id it does not hold (at
// most once a minute, so unknown ids cannot make the proxy hammer the issuer). A file is read
// at start (a bad one exits 2), again on change and SIGHUP. Without a set every token is
// refused (fail closed); a failed fetch is logged and not tried again for five seconds.

import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, type FlattenedJWSInput, type JSONWebKeySet, type JWTHeaderParameters, type JWTVerifyGetKey } from 'jose';
import { ConfigError } from '../errors.js';
import { watchFile } from '../file-watch.js';
import type { Logger } from '../observe/logger.js';
import { httpClientKit, requestOnce, type HttpClientKit } from '../upstream/http-agent.js';

/** A key set larger than this is refused. */
const MAX_JWKS_BYTES = 1 << 20;
const FETCH_TIMEOUT_MS = 5_000;
const REFRESH_AFTER_MS = 10 * 60_000;
const UNKNOWN_KID_EVERY_MS = 60_000;
const RETRY_FAILED_AFTER_MS = 5_000;

/** Thrown by getKey when no key set could be had: the token is refused, and not for its own fault. */
export class JwksUnavailableError extends Error {
  readonly code = 'ERR_SHADOWCAT_JWKS_UNAVAILABLE';
}

/** How a URL is fetched. */
export interface JwksFetchOptions {
  readonly ca: string | null;
  readonly verify: boolean;
}

/** The key set in force and how it is renewed. */
export class JwksSource {
  readonly #where: string;
  readonly #url: URL | null;
  readonly #kit: HttpClientKit | null;
  readonly #log: Logger;
  #keys: JWTVerifyGetKey | null = null;
  #loadedAt = -Infinity;
  #failedAt = -Infinity;
  #unknownAt = -Infinity;
  #loading: Promise<void> | null = null;
  #unwatch: (() => void) | null = null;
  /** Fetches made (URL) or reads (file), for tests and logs. */
  loads = 0;
  /** Counts key sets installed: a token verified under an older one is checked again. */
  generation = 0;

  /** `where` is an http(s) URL or a file path; a file is read now (throws ConfigError on a bad one). */
  constructor(where: string, fetch: JwksFetchOptions, log: Logger) {
    this.#where = where;
    this.#log = log;
    this.#url = /^https?:\/\//i.test(where) ? new URL(where) : null;
    this.#kit = this.#url === null ? null : httpClientKit(this.#url, fetch.ca, fetch.verify);
    if (this.#url === null) {
      let text: string;
      try {
        text = readFileSync(where, 'utf8');
      } catch (err) {
        throw new ConfigError(`--auth-jwks ${where}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      this.#install(keySet(text, `--auth-jwks ${where}`));
    }
  }

  /** Starts fetching a URL's set (a file is already read). */
  start(): void {
    if (this.#url !== null) void this.#load('start');
  }

  /** The key for a token's header: what jose's jwtVerify calls. */
  readonly getKey: JWTVerifyGetKey = async (header: JWTHeaderParameters, token: FlattenedJWSInput) => {
    if (this.#keys === null) {
      if (performance.now() - this.#failedAt >= RETRY_FAILED_AFTER_MS) await this.#load('no key set yet');
      if (this.#keys === null) throw new JwksUnavailableError(`no key set from ${this.#url === null ? this.#where : this.#url.origin}`);
    } else if (this.#url !== null && performance.now() - this.#loadedAt > REFRESH_AFTER_MS) {
      void this.#load('refresh');
    }
    try {
      return await this.#keys!(header, token);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY' || performance.now() - this.#unknownAt < UNKNOWN_KID_EVERY_MS) throw err;
      this.#unknownAt = performance.now();
      await this.#load(`unknown key id ${String(header.kid ?? '(none)').slice(0, 64)}`);
      return await this.#keys!(header, token);
    }
  };

  /** Reads the file again (SIGHUP, or a change); a URL is fetched again. */
  reload(why: string): void {
    void this.#load(why);
  }

  /** Calls `changed` when a file changes (a URL is not watched). */
  watch(changed: () => void): void {
    if (this.#url !== null || this.#unwatch !== null) return;
    this.#unwatch = watchFile(this.#where, changed,
      (err) => this.#log.warn({ file: this.#where, err: err.message }, 'cannot watch the --auth-jwks file: reload with SIGHUP'));
  }

  close(): void {
    this.#unwatch?.();
    this.#unwatch = null;
    this.#kit?.agent.destroy();
  }

  #install(set: JSONWebKeySet): void {
    this.#keys = createLocalJWKSet(set);
    this.#loadedAt = performance.now();
    this.generation++;
  }

  /** One load at a time; a failure keeps the set in force. */
  #load(why: string): Promise<void> {
    this.#loading ??= (async () => {
      this.loads++;
      try {
        const text = this.#url === null ? await readFile(this.#where, 'utf8') : await this.#fetch(this.#url);
        const set = keySet(text, this.#url === null ? `--auth-jwks ${this.#where}` : `key set from ${this.#url.href}`);
        this.#install(set);
        this.#log.info({ jwks: this.#url?.href ?? this.#where, keys: set.keys.length, why }, 'auth key set loaded');
      } catch (err) {
        this.#failedAt = performance.now();
        this.#log.error({ jwks: this.#url?.href ?? this.#where, err: (err as Error).message, why }, this.#keys === null
          ? 'auth key set cannot be loaded: every token is refused until it can'
          : 'auth key set cannot be loaded: the set in force stays');
      } finally {
        this.#loading = null;
      }
    })();
    return this.#loading;
  }

  async #fetch(url: URL): Promise<string> {
    const a = await requestOnce(this.#kit!, url, { method: 'GET', headers: { accept: 'application/json' }, timeoutMs: FETCH_TIMEOUT_MS, keepBytes: MAX_JWKS_BYTES });
    if (a.status !== 200) throw new Error(`HTTP ${a.status}`);
    return a.body.toString('utf8');
  }
}

/** The set in `text`; throws ConfigError saying what is wrong. */
function keySet(text: string, where: string): JSONWebKeySet {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ConfigError(`${where}: not JSON`);
  }
  const keys = typeof doc === 'object' && doc !== null ? (doc as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys) || keys.length === 0) throw new ConfigError(`${where}: expected a JSON Web Key Set, { "keys": [ ... ] } with at least one key`);
  keys.forEach((k: unknown, i) => {
    if (typeof k !== 'object' || k === null || typeof (k as { kty?: unknown }).kty !== 'string') throw new ConfigError(`${where}: keys[${i}] is not a JSON Web Key (no kty)`);
    const kty = (k as { kty: string }).kty;
    if (kty === 'oct') throw new ConfigError(`${where}: keys[${i}] is a shared secret (kty oct): only public keys verify tokens here`);
    if ('d' in (k as object)) throw new ConfigError(`${where}: keys[${i}] holds a private key (d): publish only the public part`);
  });
  return doc as JSONWebKeySet;
}
