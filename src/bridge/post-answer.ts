// The answer to one POST of requests on a bridged session: an event stream when the client
// accepts one (the messages tied to its requests, then their responses, then the end), else
// one JSON body with the responses. The stream's head is sent with the first message, so a
// child that dies before saying anything is still answered with an HTTP error (502).

import type http from 'node:http';
import { errorResponseParts } from '../http/error-response.js';
import type { ProxyError } from '../errors.js';
import { SseWriter } from './sse-writer.js';

/** How the requests of one client message are answered: the POST's own response here, or a legacy SSE session's one stream. */
export interface Answer {
  /** True while messages tied to its requests may go on a stream of its own. */
  readonly streaming: boolean;
  /** Nothing has been written yet (an error can still be an HTTP status). */
  readonly untouched: boolean;
  /** Responses still owed. */
  outstanding: number;
  /** A message for these requests: `response` when it answers one of them. */
  message(data: string, response: boolean): void;
  /** Every request failed before any message was written: one error answer. */
  failWhole(err: ProxyError, idJson: string | null): void;
  /** An SSE comment on its own stream, if it has one. */
  heartbeat(): void;
  /** Ends the answer now (drain or session end). */
  end(): void;
}

/** What an answer needs of its session. */
export interface AnswerOwner {
  /** Logs the event for Last-Event-ID resumption; returns its id. */
  logEvent(stream: string, data: string): number;
  /** A message for this POST that cannot go on it (a JSON answer): the session's GET stream takes it. */
  toGetStream(data: string): void;
  /** The answer ended (every response sent, or the client went away). */
  answered(answer: Answer): void;
}

let streamSeq = 0;

/** The pending answer of one POST. */
export class PostAnswer implements Answer {
  readonly key = `p${++streamSeq}`;
  readonly #res: http.ServerResponse;
  readonly #owner: AnswerOwner;
  readonly #stream: boolean;
  readonly #headers: Record<string, string>;
  /** Responses still owed. */
  outstanding: number;
  readonly #json: string[] = [];
  readonly #batch: boolean;
  #sse: SseWriter | null = null;
  #done = false;
  /** Set when the client went away before the answer was complete. */
  gone = false;

  constructor(res: http.ServerResponse, owner: AnswerOwner, stream: boolean, requests: number, batch: boolean, headers: Record<string, string>) {
    this.#res = res;
    this.#owner = owner;
    this.#stream = stream;
    this.outstanding = requests;
    this.#batch = batch;
    this.#headers = headers;
    res.on('close', () => {
      if (!this.#done) {
        this.gone = true;
        this.#finish();
      }
    });
  }

  /** True while messages may still be written to this POST's own stream. */
  get streaming(): boolean {
    return this.#stream && !this.#done && !this.gone;
  }

  /** Nothing has been written yet (an error can still be an HTTP status). */
  get untouched(): boolean {
    return this.#sse === null && this.#json.length === 0 && !this.#done;
  }

  /** A message for this POST: `response` when it answers one of its requests. */
  message(data: string, response: boolean): void {
    if (this.#done) {
      if (!response) this.#owner.toGetStream(data);
      return;
    }
    if (this.#stream) {
      this.#sse ??= new SseWriter(this.#res, this.#headers, () => {
        if (!this.#done) {
          this.gone = true;
          this.#finish();
        }
      });
      // Logged even when the stream ended under it: a resumption finds it.
      this.#sse.event(this.#owner.logEvent(this.key, data), data);
    } else if (response) {
      this.#json.push(data);
    } else {
      this.#owner.toGetStream(data);
    }
    if (response && --this.outstanding <= 0) this.#finish();
  }

  /** An SSE comment on this POST's stream, if it is one and open. */
  heartbeat(): void {
    if (!this.#done) this.#sse?.heartbeat();
  }

  /** Every request of this POST failed before any message was written: one HTTP error answer. */
  failWhole(err: ProxyError, idJson: string | null): void {
    if (this.#done) return;
    const { status, headers, body } = errorResponseParts(err, idJson);
    this.#done = true;
    if (!this.#res.headersSent) this.#res.writeHead(status, headers);
    this.#res.end(body);
    this.#owner.answered(this);
  }

  /** Ends the answer now (drain or session end); open streams end at an event boundary. */
  end(): void {
    this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#sse !== null) this.#sse.end();
    else if (!this.gone && !this.#res.headersSent) {
      const body = this.#batch ? `[${this.#json.join(',')}]` : (this.#json[0] ?? '');
      if (body === '') this.#res.writeHead(202, this.#headers).end();
      else this.#res.writeHead(200, { 'content-type': 'application/json', ...this.#headers }).end(body);
    } else if (!this.#res.writableEnded) this.#res.end();
    this.#owner.answered(this);
  }
}
