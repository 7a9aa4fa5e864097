// One server-sent event stream to a client of a bridged session (a GET stream or a POST
// answered as a stream). Writes respect backpressure by bound: a client that reads slower
// than its messages come has its stream ended once the bytes waiting pass the bound, and
// resumes from the session's event log with Last-Event-ID. Heartbeat comments find clients
// that vanished (a write to a dead peer fails and ends the stream).

import type http from 'node:http';

/** Bytes waiting on one stream past which it is ended. */
const STREAM_BACKLOG_LIMIT = 4 * 1024 * 1024;

/** An open event stream. */
export class SseWriter {
  readonly #res: http.ServerResponse;
  #open = true;
  readonly #onClose: () => void;

  /** Sends the stream's head; `onClose` is called once when the stream ends, whoever ends it. */
  constructor(res: http.ServerResponse, headers: Record<string, string>, onClose: () => void) {
    this.#res = res;
    this.#onClose = onClose;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
    res.flushHeaders();
    res.on('close', () => this.#closed());
  }

  /** Still writable. */
  get open(): boolean {
    return this.#open;
  }

  /** Writes one message event. */
  event(id: number, data: string): void {
    if (!this.#open) return;
    this.#res.write(`id: ${id}\nevent: message\ndata: ${data}\n\n`);
    if (this.#res.writableLength > STREAM_BACKLOG_LIMIT) this.end();
  }

  /** An event of its own type with no id (the legacy transport's `endpoint`). */
  named(type: string, data: string): void {
    if (this.#open) this.#res.write(`event: ${type}\ndata: ${data}\n\n`);
  }

  /** An SSE comment: keeps proxies from timing the stream out and finds dead clients. */
  heartbeat(): void {
    if (this.#open) this.#res.write(': ping\n\n');
  }

  /** Ends the stream; `retryMs` first tells the client when to reconnect (a drain). */
  end(retryMs?: number): void {
    if (!this.#open) return;
    if (retryMs !== undefined) this.#res.write(`retry: ${retryMs}\n\n`);
    this.#res.end();
    this.#closed();
  }

  #closed(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#onClose();
  }
}
