// --upstream-transport auto: Streamable HTTP first, the legacy HTTP+SSE transport when the
// server answers the first initialize with a 4xx, as the SDK clients decide. Until the
// server has answered that initialize, later lines wait here (a client sends nothing else
// before the answer, so this holds a few lines at most, and refuses past a bound); on the
// fallback, the initialize and whatever waited go to the SSE session in order.

import type { LineHandler, LineUpstream } from './line-upstream.js';
import type { ProxyError } from '../errors.js';
import type { Logger } from '../observe/logger.js';

/** Lines that may wait for the transport to be decided. */
const HELD_LIMIT = 64;

/** Makes the Streamable HTTP attempt; `refused` is its onHandshakeRefused. */
export type StreamableAttempt = (refused: (status: number) => boolean) => LineUpstream;

/** A remote server reached by whichever transport it speaks. */
export class AutoUpstream implements LineUpstream {
  readonly pid = null;
  /** The transport in use: 'streamable' until a fallback, then 'sse'. */
  transport: 'streamable' | 'sse' = 'streamable';
  readonly #log: Logger;
  readonly #makeSse: () => LineUpstream;
  #current: LineUpstream;
  #handler: LineHandler | null = null;
  #decided = false;
  #first: Buffer | string | null = null;
  #held: Array<Buffer | string> = [];

  constructor(streamable: StreamableAttempt, sse: () => LineUpstream, log: Logger) {
    this.#log = log;
    this.#makeSse = sse;
    this.#current = streamable((status) => this.#fallBack(status));
  }

  get command(): readonly string[] {
    return this.#current.command;
  }

  get usable(): boolean {
    return this.#current.usable;
  }

  get stderrTail(): string {
    return this.#current.stderrTail;
  }

  own(handler: LineHandler, log: Logger): void {
    this.#handler = handler;
    this.#watch(this.#current, log);
  }

  send(line: Buffer | string): boolean {
    if (this.#decided) return this.#current.send(line);
    if (this.#first === null) {
      this.#first = line;
      return this.#current.send(line);
    }
    if (this.#held.length >= HELD_LIMIT) return false;
    this.#held.push(line);
    return true;
  }

  stop(): Promise<void> {
    return this.#current.stop();
  }

  kill(): void {
    this.#current.kill();
  }

  startFailure(err: Error): ProxyError {
    return this.#current.startFailure(err);
  }

  /** Hands `upstream`'s lines and end on while it is the one in use. */
  #watch(upstream: LineUpstream, log: Logger): void {
    upstream.own({
      line: (l) => {
        if (upstream !== this.#current) return;
        // The first answer came: the transport is decided, and what waited goes out.
        if (!this.#decided) this.#decide();
        this.#handler?.line(l);
      },
      exit: (code, signal, err) => {
        if (upstream === this.#current) this.#handler?.exit(code, signal, err);
      },
    }, log);
  }

  #decide(): void {
    this.#decided = true;
    const held = this.#held;
    this.#held = [];
    for (const l of held) this.#current.send(l);
  }

  #fallBack(status: number): boolean {
    if (this.#decided || this.#first === null) return false;
    const tried = this.#current;
    this.#log.info({ upstream: tried.command[0], status }, 'the server refused a Streamable HTTP initialize: falling back to the legacy SSE transport');
    this.#current = this.#makeSse();
    this.transport = 'sse';
    void tried.stop();
    this.#watch(this.#current, this.#log);
    this.#current.send(this.#first);
    this.#decide();
    return true;
  }
}
