// One client connection and everything it owns: its counters, its state, and the one
// idempotent close(reason) that tears it all down. Knows nothing of HTTP.

import type { Identity } from './identity.js';
import { randomFillSync } from 'node:crypto';

/** Where a session is in its life. */
export type SessionState = 'open' | 'upgraded' | 'draining' | 'closed';

/** Why a session ended: a short stable word for logs and metrics. */
export type CloseReason =
  | 'client-closed' | 'upstream-closed' | 'error' | 'expired' | 'admin' | 'shutdown' | 'done' | 'upstream-error';

/** What a session's connection handler must provide so the session can end it. */
export interface SessionOwner {
  /** Destroys every socket and timer of the connection; called exactly once. */
  teardown(reason: CloseReason): void;
  /** Asks the connection to finish in-flight work and then close (graceful shutdown). */
  drain(): void;
}

// Session ids are random (v4) UUIDs written straight into one flat string. randomUUID()
// builds its result from ~20 joined pieces, and an id that lives as long as its session
// would keep every piece (~400 bytes a session); flattening it cost two more copies.
const RANDOM = Buffer.allocUnsafe(16 * 128);
let randomAt = RANDOM.length;
const HEX = Buffer.from('0123456789abcdef', 'latin1');
const UUID = Buffer.allocUnsafe(36);

/** A fresh session id; with a `tag` (0–65535), the id's first 16 bits are the tag (a --workers bridge names the owning worker so). */
export function flatUuid(tag = -1): string {
  if (randomAt === RANDOM.length) {
    randomFillSync(RANDOM);
    randomAt = 0;
  }
  const at = randomAt;
  randomAt += 16;
  let o = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) UUID[o++] = 0x2d;
    let b = RANDOM[at + i]!;
    if (i < 2 && tag >= 0) b = i === 0 ? (tag >> 8) & 0xff : tag & 0xff;
    else if (i === 6) b = (b & 0x0f) | 0x40; // version 4
    else if (i === 8) b = (b & 0x3f) | 0x80; // RFC 9562 variant
    UUID[o++] = HEX[b >> 4]!;
    UUID[o++] = HEX[b & 15]!;
  }
  return UUID.toString('latin1', 0, 36);
}

// A session's times are kept as ms since the process's EPOCH: small integers V8 stores in
// the object itself. A Date.now() (past 2^31) in a field is a 16-byte box per field per
// session, and most sessions sit idle. The difference of two such doubles is a double
// too, even when whole (and the first one stored makes the field a boxed double for every
// session): sinceEpoch() floors it, which hands back a small integer.
const EPOCH = Date.now();

function sinceEpoch(ms: number): number {
  return Math.floor(ms - EPOCH);
}

/** Called once when a session ends, to unregister and count it. */
export type SessionEndHook = (session: Session, reason: CloseReason, error: unknown) => void;

/** A client connection with its own id, counters and single close path. */
export class Session {
  readonly id: string;
  readonly clientIp: string;
  readonly clientPort: number;
  readonly #createdMs: number;
  #activeMs: number;
  requests = 0;
  bytesIn = 0;
  bytesOut = 0;
  mcpSessionId: string | null = null;
  /** A bridged session's stdio server (shared or its own), for /sessions. */
  childPid: number | null = null;
  /** Who the client proved to be (a key's name, a token's sub); never the credential. */
  subject: string | null = null;
  /** A token's verified claims, for policy match.claims; never shown. */
  claims: Readonly<Record<string, unknown>> | null = null;
  /** Whom the registry counts this session for (--max-per-client, and the corridor's --rate-limit key): its address, or `subject:NAME`. */
  countedAs: string | null = null;
  state: SessionState = 'open';
  closeReason: CloseReason | null = null;
  #owner: SessionOwner | null = null;
  #client: string | null = null;
  readonly #onEnd: SessionEndHook;

  /** Takes the identity a request proved. */
  identify(who: Identity | null): void {
    this.subject = who === null ? null : who.subject;
    this.claims = who === null ? null : who.claims;
  }

  constructor(clientIp: string, clientPort: number, now: number, onEnd: SessionEndHook, id: string = flatUuid()) {
    this.id = id;
    this.clientIp = clientIp;
    this.clientPort = clientPort;
    this.#createdMs = sinceEpoch(now);
    this.#activeMs = this.#createdMs;
    this.#onEnd = onEnd;
  }

  /** When the session started (ms since 1970). */
  get createdAt(): number {
    return EPOCH + this.#createdMs;
  }

  /** When the session last carried a request (ms since 1970); the registry's idle order. */
  get lastActivityAt(): number {
    return EPOCH + this.#activeMs;
  }

  set lastActivityAt(ms: number) {
    this.#activeMs = sinceEpoch(ms);
  }

  /** Attaches the connection handler that close() tears down. */
  own(owner: SessionOwner): void {
    this.#owner = owner;
  }

  /** "ip:port" of the client. */
  get client(): string {
    return (this.#client ??= this.clientIp.includes(':') ? `[${this.clientIp}]:${this.clientPort}` : `${this.clientIp}:${this.clientPort}`);
  }

  /** Asks the connection to finish what it is doing, then close. */
  drain(): void {
    if (this.state === 'closed') return;
    if (this.state === 'open') this.state = 'draining';
    if (this.#owner === null) this.close('shutdown');
    else this.#owner.drain();
  }

  /** Ends the session exactly once: sockets, timers, registry entry, metrics, log line. */
  close(reason: CloseReason, error?: unknown): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeReason = reason;
    const owner = this.#owner;
    this.#owner = null;
    owner?.teardown(reason);
    this.#onEnd(this, reason, error);
  }

  /** The JSON shape of GET /sessions. */
  toJSON(): Record<string, unknown> {
    return {
      id: this.id,
      client: this.client,
      createdAt: new Date(this.createdAt).toISOString(),
      lastActivityAt: new Date(this.lastActivityAt).toISOString(),
      requests: this.requests,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      mcpSessionId: this.mcpSessionId,
      state: this.state,
      ...(this.childPid === null ? {} : { childPid: this.childPid }),
      ...(this.subject === null ? {} : { subject: this.subject }),
    };
  }
}
