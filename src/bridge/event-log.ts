// The events of one bridged session, for `Last-Event-ID` resumption: every SSE event the
// session sends (on its GET stream or a POST's) gets the next id and is kept in a ring of
// `--event-buffer` entries. Messages for the GET stream while none is open wait here too,
// and a new GET stream gets them first. Past the bound (in events, and 4 MiB of data) the
// oldest event already sent is dropped, else the oldest waiting one, which is counted.

/** One sent (or waiting) event. */
export interface LoggedEvent {
  readonly id: number;
  /** Which stream it belongs to: 'get', or the key of a POST's stream. */
  readonly stream: string;
  readonly data: string;
}

/** Bytes of event data a session keeps at most, whatever --event-buffer says (a few large results must not hold memory). */
const MAX_BYTES = 4 * 1024 * 1024;

/** A bounded ring of a session's events. */
export class EventLog {
  readonly #capacity: number;
  #events: LoggedEvent[] = [];
  #bytes = 0;
  #next = 1;
  /** The last GET-stream event a GET stream was given. */
  #getDelivered = 0;
  /** Events dropped from the ring so far. */
  dropped = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Records an event; returns its id. `delivered`: it is being written to an open GET stream now. */
  append(stream: string, data: string, delivered: boolean): number {
    const id = this.#next++;
    if (this.#capacity > 0) {
      this.#events.push({ id, stream, data });
      this.#bytes += data.length;
      while (this.#events.length > this.#capacity || (this.#bytes > MAX_BYTES && this.#events.length > 1)) {
        // History (events some stream was given) goes first: a client busy with calls must
        // not push out the messages still waiting for its GET stream.
        let at = 0;
        while (at < this.#events.length && this.#waiting(this.#events[at]!)) at++;
        // Nothing but waiting messages: the oldest of them goes.
        if (at === this.#events.length) at = 0;
        const old = at === 0 ? this.#events.shift()! : this.#events.splice(at, 1)[0]!;
        this.#bytes -= old.data.length;
        // A GET event nobody has seen is a loss; an old delivered one is just history.
        if (this.#waiting(old)) this.dropped++;
      }
    }
    if (delivered && stream === 'get') this.#getDelivered = id;
    return id;
  }

  #waiting(e: LoggedEvent): boolean {
    return e.stream === 'get' && e.id > this.#getDelivered;
  }

  /** GET-stream events not yet given to any GET stream, oldest first; marks them given. */
  undelivered(): LoggedEvent[] {
    const out = this.#events.filter((e) => e.stream === 'get' && e.id > this.#getDelivered);
    if (out.length > 0) this.#getDelivered = out[out.length - 1]!.id;
    return out;
  }

  /** The events after `lastId` on the stream that event belonged to; null when the id is unknown (too old, or never sent). */
  after(lastId: number): { stream: string; events: LoggedEvent[] } | null {
    const at = this.#events.findIndex((e) => e.id === lastId);
    if (at === -1) return null;
    const stream = this.#events[at]!.stream;
    const events = this.#events.slice(at + 1).filter((e) => e.stream === stream);
    if (stream === 'get' && events.length > 0) this.#getDelivered = Math.max(this.#getDelivered, events[events.length - 1]!.id);
    return { stream, events };
  }
}
