// Who may reach forward http by Host and Origin (docs/reference.md "Who may connect"): a web page can
// rebind its DNS name to 127.0.0.1 and script requests at a local proxy, so a proxy on a
// loopback address serves loopback Host names only and answers browsers from loopback
// origins only; one on another address serves any Host and no cross-origin browser. The
// lists widen that. A request without Origin (every non-browser client) is judged on its
// Host alone. The verdict on a Host is kept, so the common request costs one comparison
// of two strings and no parsing.

import { HostNotAllowedError, OriginNotAllowedError, type ProxyError } from '../errors.js';

/** What the guard allows. */
export interface OriginGuardOptions {
  /** The proxy listens on a loopback address. */
  readonly loopback: boolean;
  /** --allowed-hosts: names (any port) or name:port; '*' allows any. */
  readonly allowedHosts: readonly string[];
  /** --allowed-origins: scheme://host[:port]; '*' allows any. */
  readonly allowedOrigins: readonly string[];
}

/** Host verdicts kept before the cache starts over (a client sending a new Host each time gains nothing). */
const CACHE_LIMIT = 256;
const IPV4_LOOPBACK = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const ORIGIN = /^([a-z][a-z0-9+.-]*):\/\/(\[[0-9a-f:.]+\]|[^/:@[\]]+)(?::(\d{1,5}))?$/;

/** The host name of a Host value or an origin's authority, lower-case, without the port. */
function nameOf(authority: string): string {
  const a = authority.toLowerCase();
  if (a.startsWith('[')) {
    const close = a.indexOf(']');
    return close < 0 ? a : a.slice(0, close + 1);
  }
  const colon = a.indexOf(':');
  return colon < 0 ? a : a.slice(0, colon);
}

/** localhost, 127.0.0.0/8 or [::1]. */
export function isLoopbackName(name: string): boolean {
  return name === 'localhost' || name === '[::1]' || IPV4_LOOPBACK.test(name);
}

/** Judges a request's Host and Origin. */
export class OriginGuard {
  readonly #o: OriginGuardOptions;
  readonly #anyHost: boolean;
  readonly #anyOrigin: boolean;
  readonly #hostNames: Set<string>;
  readonly #hostPorts: Set<string>;
  readonly #origins: Set<string>;
  readonly #hosts = new Map<string, boolean>();
  #lastOk = '';

  constructor(options: OriginGuardOptions) {
    this.#o = options;
    this.#anyHost = options.allowedHosts.includes('*') || (!options.loopback && options.allowedHosts.length === 0);
    this.#anyOrigin = options.allowedOrigins.includes('*');
    const hosts = options.allowedHosts.filter((h) => h !== '*').map((h) => h.toLowerCase());
    this.#hostPorts = new Set(hosts.filter((h) => nameOf(h) !== h));
    this.#hostNames = new Set(hosts.filter((h) => nameOf(h) === h));
    this.#origins = new Set(options.allowedOrigins.filter((o) => o !== '*').map((o) => o.toLowerCase().replace(/\/+$/, '')));
  }

  /** Null when the request may go on, else the 403 it gets. */
  check(host: string | null, origin: string | null): ProxyError | null {
    if (host !== null && host !== this.#lastOk && !this.#anyHost) {
      if (!this.#hostAllowed(host)) return new HostNotAllowedError(host);
      this.#lastOk = host;
    }
    if (origin === null || this.#anyOrigin) return null;
    return this.originAllowed(origin, host) ? null : new OriginNotAllowedError(origin);
  }

  /** An Origin is allowed: listed, same-origin with the Host, or loopback on a loopback proxy. */
  originAllowed(origin: string, host: string | null): boolean {
    if (this.#anyOrigin) return true;
    const o = origin.toLowerCase();
    if (this.#origins.has(o)) return true;
    const m = ORIGIN.exec(o);
    if (m === null) return false;
    const authority = m[3] === undefined ? m[2]! : `${m[2]}:${m[3]}`;
    // Same origin: a browser page served by the proxy's own name and port.
    if (host !== null && authority === host.toLowerCase()) return true;
    return this.#o.loopback && isLoopbackName(m[2]!);
  }

  #hostAllowed(host: string): boolean {
    const known = this.#hosts.get(host);
    if (known !== undefined) return known;
    const lower = host.toLowerCase();
    const name = nameOf(lower);
    const ok = this.#hostPorts.has(lower) || this.#hostNames.has(name) || (this.#o.loopback && isLoopbackName(name));
    if (this.#hosts.size >= CACHE_LIMIT) this.#hosts.clear();
    this.#hosts.set(host, ok);
    return ok;
  }
}
