// --recover-sessions (docs/reference.md "MCP-aware resilience"): the proxy keeps each MCP session's
// handshake (its `initialize` request and `notifications/initialized`, and its
// `logging/setLevel` / `resources/subscribe` calls, bounded). When the upstream answers
// 404 for a session it saw initialised (the server restarted or dropped it; SDK example
// servers say so with a 400 about the session id, see isForgottenSession), the exchange
// asks this store to re-run that handshake upstream; the new upstream session id is then
// mapped to the client's both ways for the rest of the session. The handshake is a few
// requests on connections of their own, sent by the HandshakePost the app gives it
// (upstream/handshake-post.ts: the upstream TLS settings; rare, off the data path).

import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';

/** Methods whose calls are replayed after the handshake, in the order they were made. */
export const REPLAYED_METHODS: ReadonlySet<string> = new Set(['notifications/initialized', 'logging/setLevel', 'resources/subscribe']);

const MAX_SESSIONS = 10_000;
/** Longest 400 body read to tell a forgotten session from another bad request. */
const MAX_FORGOTTEN_BODY = 4096;

/** True when an answer to a request of a known session says the upstream forgot it: a 404, or
 *  the 400 that servers built on the SDK's examples (server-everything among them) send, a
 *  JSON-RPC error about the session id ("Bad Request: No valid session ID provided"). */
export function isForgottenSession(status: number, body: Buffer): boolean {
  if (status === 404) return true;
  if (status !== 400 || body.length === 0 || body.length > MAX_FORGOTTEN_BODY) return false;
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return false;
  }
  const error = typeof value === 'object' && value !== null ? (value as { error?: unknown }).error : undefined;
  const message = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  return typeof message === 'string' && /session/i.test(message);
}
const MAX_REPLAYS = 32;

interface KnownSession {
  readonly init: Buffer;
  readonly replays: Buffer[];
  /** The upstream's id for this session now (the client's own until a recovery). */
  upstreamId: string;
  recovering: Promise<string | null> | null;
}

/** One POST of the handshake to the upstream (upstream/handshake-post.ts): its status and the session id it answered with. */
export type HandshakePost = (body: Buffer, sessionId: string | null) => Promise<{ status: number; sessionId: string | null }>;

/** The sessions the proxy can recover, and their id mappings. */
export class SessionRecovery {
  readonly #known = new Map<string, KnownSession>();
  readonly #toClient = new Map<string, string>();
  readonly #post: HandshakePost;
  readonly #metrics: Metrics;

  constructor(post: HandshakePost, metrics: Metrics) {
    this.#post = post;
    this.#metrics = metrics;
  }

  /** An initialize request (its body) was answered with session `id`. */
  learnInit(id: string, init: Buffer): void {
    if (this.#known.has(id)) return;
    if (this.#known.size >= MAX_SESSIONS) this.#forget(this.#known.keys().next().value as string);
    this.#known.set(id, { init: Buffer.from(init), replays: [], upstreamId: id, recovering: null });
  }

  /** A call to replay (REPLAYED_METHODS) succeeded in session `id`. */
  learnCall(id: string, body: Buffer): void {
    const s = this.#known.get(id);
    if (s === undefined) return;
    if (s.replays.length < MAX_REPLAYS) s.replays.push(Buffer.from(body));
  }

  /** True when session `id` can be recovered. */
  knows(id: string): boolean {
    return this.#known.has(id);
  }

  /** The upstream's id for the client's session `id`, or null when it is the same. */
  upstreamIdFor(id: string): string | null {
    const s = this.#known.get(id);
    return s === undefined || s.upstreamId === id ? null : s.upstreamId;
  }

  /** The client's id for an upstream session id, or null when it is not a recovered one. */
  clientIdFor(upstreamId: string): string | null {
    return this.#toClient.get(upstreamId) ?? null;
  }

  /** The session ended (DELETE answered): nothing more to recover. */
  forget(id: string): void {
    this.#forget(id);
  }

  #forget(id: string): void {
    const s = this.#known.get(id);
    if (s === undefined) return;
    this.#known.delete(id);
    if (s.upstreamId !== id) this.#toClient.delete(s.upstreamId);
  }

  /** Re-runs session `id`'s handshake upstream (once at a time per session); resolves with the new upstream id, or null when it failed. */
  recover(id: string, log: Logger): Promise<string | null> {
    const s = this.#known.get(id);
    if (s === undefined) return Promise.resolve(null);
    s.recovering ??= this.#handshake(s, id, log).finally(() => {
      s.recovering = null;
    });
    return s.recovering;
  }

  async #handshake(s: KnownSession, id: string, log: Logger): Promise<string | null> {
    try {
      const init = await this.#post(s.init, null);
      const newId = init.sessionId;
      if (init.status !== 200 || newId === null) throw new Error(`initialize answered ${init.status}${newId === null ? ' without a session id' : ''}`);
      for (const body of s.replays) {
        const r = await this.#post(body, newId);
        if (r.status >= 300) throw new Error(`a replayed call answered ${r.status}`);
      }
      if (s.upstreamId !== id) this.#toClient.delete(s.upstreamId);
      s.upstreamId = newId;
      this.#toClient.set(newId, id);
      this.#metrics.mcpSessionsRecovered.labels('ok').inc();
      log.info({ mcp: id, upstreamSession: newId, replayed: s.replays.length }, 'mcp session recovered');
      return newId;
    } catch (err) {
      this.#metrics.mcpSessionsRecovered.labels('failed').inc();
      log.warn({ mcp: id, err: (err as Error).message }, 'mcp session recovery failed: the 404 goes to the client');
      return null;
    }
  }
}
