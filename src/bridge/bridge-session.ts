// One MCP session of the message bridge: the registry entry (limits, expiry, /sessions),
// its GET stream, the answers of its POSTs in flight and its event log. Its id is the
// Mcp-Session-Id the proxy issued. It ends once (DELETE, idle expiry, the child's exit,
// admin close, shutdown), ending its streams and leaving its child link.

import type { MessageOrigin } from '../mcp/inspector.js';
import type { LazyLogger } from '../mcp/message.js';
import type { CloseReason, Session, SessionOwner } from '../session/session.js';
import type { ChildLink } from './child-link.js';
import { EventLog } from './event-log.js';
import type { Answer, AnswerOwner } from './post-answer.js';
import type { SseWriter } from './sse-writer.js';

/** Retry delay the drain asks GET-stream clients to reconnect after. */
const DRAIN_RETRY_MS = 1000;

/** A bridged MCP session. */
export class BridgeSession implements AnswerOwner, SessionOwner {
  readonly session: Session;
  readonly link: ChildLink;
  readonly events: EventLog;
  readonly origin: MessageOrigin;
  /** Client request id (JSON text) → upstream id, while in flight (for cancellation). */
  readonly inFlight = new Map<string, number>();
  readonly #answers = new Set<Answer>();
  #get: SseWriter | null = null;
  /** A legacy HTTP+SSE client: its one stream carries everything, and the session ends with it. */
  #legacy = false;
  #draining = false;
  readonly #touch: () => void;
  readonly #onDropped: (n: number) => void;

  constructor(session: Session, link: ChildLink, eventBuffer: number, log: LazyLogger, touch: () => void, onDropped: (n: number) => void) {
    this.session = session;
    this.link = link;
    this.events = new EventLog(eventBuffer);
    this.origin = { proxySession: session.id, mcpSession: session.id, clientIp: session.clientIp, onGetStream: false, http: null, log };
    this.#touch = touch;
    this.#onDropped = onDropped;
    session.mcpSessionId = session.id;
    session.own(this);
    link.attach(this);
  }

  /** The one POST answer streaming now, if exactly one is. */
  streamingAnswer(): Answer | null {
    let found: Answer | null = null;
    for (const a of this.#answers) {
      if (!a.streaming) continue;
      if (found !== null) return null;
      found = a;
    }
    return found;
  }

  /** An answer began. */
  started(answer: Answer): void {
    this.#answers.add(answer);
  }

  logEvent(stream: string, data: string): number {
    this.#touch();
    this.session.bytesOut += data.length;
    const before = this.events.dropped;
    const id = this.events.append(stream, data, false);
    if (this.events.dropped > before) this.#onDropped(this.events.dropped - before);
    return id;
  }

  toGetStream(data: string): void {
    this.session.bytesOut += data.length;
    const get = this.#get !== null && this.#get.open ? this.#get : null;
    const before = this.events.dropped;
    const id = this.events.append('get', data, get !== null);
    if (this.events.dropped > before) this.#onDropped(this.events.dropped - before);
    get?.event(id, data);
  }

  answered(answer: Answer): void {
    this.#answers.delete(answer);
    this.#touch();
    if (this.#draining && this.#answers.size === 0) this.session.close('shutdown');
  }

  /** A GET stream opened: it replaces an older one, and gets what waited (or what came after `lastEventId`). */
  openGet(get: SseWriter, lastEventId: number | null): void {
    if (this.#get !== null && this.#get !== get) this.#get.end();
    this.#get = get;
    if (lastEventId !== null) {
      const after = this.events.after(lastEventId);
      if (after !== null) {
        for (const e of after.events) get.event(e.id, e.data);
        return;
      }
    }
    for (const e of this.events.undelivered()) get.event(e.id, e.data);
  }

  /** A legacy HTTP+SSE client's stream opened: the session's one stream, for its lifetime. */
  openLegacy(stream: SseWriter): void {
    this.#legacy = true;
    this.#get = stream;
  }

  /** A GET stream ended (a legacy client's: the session ends with it). */
  closedGet(get: SseWriter): void {
    if (this.#get !== get) return this.#touch();
    this.#get = null;
    if (this.#legacy) this.session.close('done');
    else this.#touch();
  }

  /** Heartbeat on every open stream of the session. */
  heartbeat(): void {
    this.#get?.heartbeat();
    for (const a of this.#answers) a.heartbeat();
  }

  /** True while a stream or a request keeps the session busy (idle expiry waits). */
  get busy(): boolean {
    return this.#answers.size > 0 || (this.#get !== null && this.#get.open);
  }

  teardown(_reason: CloseReason): void {
    const get = this.#get;
    this.#get = null;
    get?.end();
    for (const a of [...this.#answers]) a.end();
    this.#answers.clear();
    this.link.detach(this);
  }

  drain(): void {
    this.#draining = true;
    // The GET stream carries no responses: ended at once, with a retry hint. A legacy
    // client's stream carries its answers too: it ends with the session.
    if (!this.#legacy) {
      this.#get?.end(DRAIN_RETRY_MS);
      this.#get = null;
    }
    if (this.#answers.size === 0) this.session.close('shutdown');
  }
}
