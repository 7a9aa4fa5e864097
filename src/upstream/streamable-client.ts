// The upstream transport of the message bridge for a remote MCP server: a Streamable HTTP
// client for one MCP session (forward stdio --url). Each client message is POSTed as it
// comes, with the session id and protocol version the handshake gave; a JSON or event
// stream answer becomes whole messages in the order they arrive; after
// notifications/initialized a GET stream carries the server's own messages and is resumed
// with Last-Event-ID when it drops; close() ends the session with DELETE. A request whose
// answer cannot come (the server is unreachable, answers an HTTP error, or its stream
// breaks) gets a JSON-RPC error at once: nothing waits for ever. With --recover-sessions,
// a session the server forgot (404, or the SDK examples' 400) is set up again and the
// message sent once more.

import type http from 'node:http';
import { ProxyError, UpstreamBrokenError, UpstreamStatusError, UpstreamTimeoutError } from '../errors.js';
import { errorBody } from '../http/error-response.js';
import { Envelope, ENVELOPE_OK, readEnvelope } from '../mcp/envelope.js';
import { isForgottenSession, REPLAYED_METHODS } from '../mcp/session-recovery.js';
import { SseReader } from '../mcp/sse-reader.js';
import type { Logger } from '../observe/logger.js';
import { connectFailure, httpClientKit } from './http-agent.js';
import { publicUrl } from './public-url.js';

/** How the client reaches the server. */
export interface StreamableClientOptions {
  readonly url: URL;
  /** --upstream-header lines, sent on every request. */
  readonly headers: readonly { readonly name: string; readonly value: string }[];
  readonly ca: string | null;
  readonly verify: boolean;
  /** Time for a response head (connecting included). */
  readonly headTimeoutMs: number;
  /** Longest message or JSON body read. */
  readonly maxBodyBytes: number;
  readonly recover: boolean;
  readonly log: Logger;
  /** A whole message from the server, or one the proxy made for a request that cannot be answered. */
  readonly onMessage: (message: Buffer) => void;
  /** A session was set up again after the server forgot it (ok), or could not be (failed). */
  readonly onRecovery?: (result: 'ok' | 'failed') => void;
  /** True while the client is not keeping up (its output needs to drain): streams are paused. */
  readonly blocked: () => boolean;
  /** Calls `resume` once the client's output drained. */
  readonly onDrain: (resume: () => void) => void;
  /**
   * --upstream-transport auto: the first initialize was answered with a 4xx. True takes it
   * over (the caller falls back to the legacy SSE transport): nothing is answered here.
   */
  readonly onHandshakeRefused?: (status: number) => boolean;
}

/** What one client line is, as far as sending it goes. */
export interface OutgoingMessage {
  readonly body: Buffer;
  /** JSON texts of the ids of the requests in it (an answer is owed to each). */
  readonly requestIds: readonly string[];
  /** The methods in it, to spot initialize, initialized and what recovery replays. */
  readonly methods: readonly string[];
}

/** Longest wait between GET stream reconnects. */
const GET_RETRY_MAX_MS = 30_000;
const GET_RETRY_FIRST_MS = 500;
const DELETE_TIMEOUT_MS = 3000;
const MAX_REPLAYS = 32;

/** One MCP session with a remote Streamable HTTP server. */
export class StreamableClient {
  readonly #o: StreamableClientOptions;
  readonly #agent: http.Agent;
  readonly #request: typeof http.request;
  readonly #env = new Envelope();
  #sessionId: string | null = null;
  #protocol: string | null = null;
  #initBody: Buffer | null = null;
  #initId: string | null = null;
  readonly #replays: Buffer[] = [];
  #recovering: Promise<boolean> | null = null;
  #get: http.ClientRequest | null = null;
  #getWanted = false;
  #getRetryMs = GET_RETRY_FIRST_MS;
  #getTimer: NodeJS.Timeout | null = null;
  #lastEventId: string | null = null;
  #closing = false;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: StreamableClientOptions) {
    this.#o = options;
    const kit = httpClientKit(options.url, options.ca, options.verify);
    this.#agent = kit.agent;
    this.#request = kit.request;
  }

  /** The server's session id, once the handshake gave one. */
  get sessionId(): string | null {
    return this.#sessionId;
  }

  /** Sends one client message (or batch); its answers come through onMessage. */
  send(message: OutgoingMessage): void {
    if (message.methods.includes('initialize') && message.requestIds.length > 0) {
      this.#initBody = message.body;
      this.#initId = message.requestIds[0]!;
    } else if (this.#o.recover && message.methods.some((m) => REPLAYED_METHODS.has(m)) && this.#replays.length < MAX_REPLAYS) {
      this.#replays.push(message.body);
    }
    const p = this.#post(message, true).finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
  }

  /** Waits for messages in flight (up to `timeoutMs`), then ends the session with DELETE and stops the GET stream. */
  async close(timeoutMs: number): Promise<void> {
    this.#closing = true;
    await Promise.race([Promise.allSettled([...this.#inFlight]), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    this.#stopGet();
    if (this.#sessionId !== null) {
      const status = await this.#simple('DELETE', DELETE_TIMEOUT_MS).catch(() => 0);
      this.#o.log.info({ mcp: this.#sessionId, status }, 'session ended upstream (DELETE)');
    }
    this.#agent.destroy();
  }

  /** Stops at once (a second signal): no DELETE, nothing waited for. */
  destroy(): void {
    this.#closing = true;
    this.#stopGet();
    this.#agent.destroy();
  }

  #headers(extra: http.OutgoingHttpHeaders): http.OutgoingHttpHeaders {
    const h: http.OutgoingHttpHeaders = {};
    for (const { name, value } of this.#o.headers) h[name] = value;
    if (this.#sessionId !== null) h['mcp-session-id'] = this.#sessionId;
    if (this.#protocol !== null) h['mcp-protocol-version'] = this.#protocol;
    return Object.assign(h, extra);
  }

  /** A request with no body whose answer is only its status (DELETE). */
  #simple(method: string, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = this.#request(this.#o.url, { method, agent: this.#agent, headers: this.#headers({}) });
      const timer = setTimeout(() => req.destroy(new Error('timeout')), timeoutMs);
      req.on('response', (res) => {
        clearTimeout(timer);
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end();
    });
  }

  /** POSTs a message; every request id in it is answered by the server or by an error made here. */
  #post(message: OutgoingMessage, mayRecover: boolean): Promise<void> {
    return new Promise<void>((done) => {
      const owed = new Set(message.requestIds);
      const fail = (err: ProxyError): void => {
        for (const id of owed) this.#o.onMessage(Buffer.from(errorBody(err, id), 'utf8'));
        owed.clear();
      };
      const emit = (msg: Buffer): void => {
        this.#seen(msg, owed);
        this.#o.onMessage(msg);
      };
      const req = this.#request(this.#o.url, {
        method: 'POST',
        agent: this.#agent,
        headers: this.#headers({ 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': message.body.length }),
      });
      const timer = setTimeout(() => req.destroy(new UpstreamTimeoutError(`no answer from the upstream within ${this.#o.headTimeoutMs} ms`)), this.#o.headTimeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        fail(err instanceof ProxyError ? err : connectFailure(err));
        this.#o.log.warn({ upstream: publicUrl(this.#o.url), err: err.message }, 'upstream request failed');
        done();
      });
      req.on('response', (res) => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        if (message.methods.includes('initialize') && status >= 200 && status < 300) {
          const sid = res.headers['mcp-session-id'];
          if (typeof sid === 'string') this.#sessionId = sid;
        }
        const type = String(res.headers['content-type'] ?? '').toLowerCase();
        let finished = false;
        const finish = (): void => {
          if (finished) return;
          finished = true;
          if (owed.size > 0) fail(new UpstreamBrokenError('the upstream ended its answer before answering every request'));
          if (status >= 200 && status < 300 && message.methods.includes('notifications/initialized')) this.#startGet();
          done();
        };
        res.on('error', () => {});
        res.on('aborted', () => {
          fail(new UpstreamBrokenError('the upstream closed the connection mid-answer'));
        });
        if (status >= 200 && status < 300 && type.startsWith('text/event-stream')) {
          const reader = new SseReader(this.#o.maxBodyBytes, (b, s, e) => emit(Buffer.from(b.subarray(s, e))));
          res.on('data', (chunk: Buffer) => {
            reader.push(chunk);
            this.#backpressure(res);
          });
          res.on('end', finish);
          res.on('close', finish);
          return;
        }
        readBounded(res, this.#o.maxBodyBytes, (body) => {
          if (status >= 200 && status < 300) {
            if (body.length > 0 && type.startsWith('application/json')) for (const m of splitJson(body)) emit(m);
            return finish();
          }
          if (mayRecover && this.#o.recover && this.#initBody !== null && !message.methods.includes('initialize') && isForgottenSession(status, body)) {
            return void this.#recover().then((ok) => {
              if (!ok) {
                fail(new UpstreamStatusError(status));
                return done();
              }
              void this.#post(message, false).then(done);
            });
          }
          if (status >= 400 && status < 500 && this.#sessionId === null && message.methods.includes('initialize') && this.#o.onHandshakeRefused?.(status) === true) {
            owed.clear();
            return done();
          }
          // An error answer that is a JSON-RPC error for one of its requests is that request's answer.
          if (body.length > 0 && type.startsWith('application/json')) for (const m of splitJson(body)) if (this.#answers(m, owed)) emit(m);
          fail(new UpstreamStatusError(status));
          done();
        });
      });
      req.end(message.body);
    });
  }

  /** Notes the answers (and the initialize result's protocol version) among the server's messages. */
  #seen(msg: Buffer, owed: Set<string>): void {
    const env = this.#env;
    if (readEnvelope(msg, 0, msg.length, env) !== ENVELOPE_OK || env.id === null || (env.kind !== 'result' && env.kind !== 'error')) return;
    owed.delete(env.id);
    if (env.id === this.#initId && this.#protocol === null && env.kind === 'result') {
      try {
        const v = (JSON.parse(msg.toString('utf8')) as { result?: { protocolVersion?: unknown } }).result?.protocolVersion;
        if (typeof v === 'string' && /^[\x21-\x7e]{1,64}$/.test(v)) this.#protocol = v;
      } catch {
        // not JSON after all: no version to send
      }
    }
  }

  #answers(msg: Buffer, owed: Set<string>): boolean {
    const env = this.#env;
    return readEnvelope(msg, 0, msg.length, env) === ENVELOPE_OK && env.id !== null && env.kind === 'error' && owed.has(env.id);
  }

  /** Sets the session up again (once for every message that found it forgotten); false when the server would not. */
  #recover(): Promise<boolean> {
    if (this.#recovering !== null) return this.#recovering;
    const forgotten = this.#sessionId;
    this.#recovering = (async () => {
      this.#stopGet();
      this.#sessionId = null;
      const quiet = (): void => {};
      const handshake = await this.#exchange(this.#initBody!, true);
      if (!handshake) {
        this.#o.log.warn({ mcp: forgotten }, 'session recovery failed: the upstream refused the handshake');
        this.#o.onRecovery?.('failed');
        return false;
      }
      await this.#exchange(Buffer.from('{"jsonrpc":"2.0","method":"notifications/initialized"}'), false);
      for (const r of this.#replays) await this.#exchange(r, false).then(quiet, quiet);
      this.#o.log.info({ mcp: forgotten, now: this.#sessionId }, 'session recovered upstream');
      this.#o.onRecovery?.('ok');
      this.#startGet();
      return true;
    })().finally(() => {
      this.#recovering = null;
    });
    return this.#recovering;
  }

  /** A POST whose answers the client must not see (recovery's handshake and replays); true on a 2xx. */
  #exchange(body: Buffer, init: boolean): Promise<boolean> {
    return new Promise((resolve) => {
      const req = this.#request(this.#o.url, {
        method: 'POST', agent: this.#agent,
        headers: this.#headers({ 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': body.length }),
      });
      const timer = setTimeout(() => req.destroy(new Error('timeout')), this.#o.headTimeoutMs);
      req.on('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
      req.on('response', (res) => {
        clearTimeout(timer);
        const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
        const sid = res.headers['mcp-session-id'];
        if (init && ok && typeof sid === 'string') this.#sessionId = sid;
        res.resume();
        res.on('end', () => resolve(ok));
        res.on('close', () => resolve(ok));
      });
      req.end(body);
    });
  }

  #startGet(): void {
    if (this.#closing || this.#get !== null || this.#sessionId === null) return;
    this.#getWanted = true;
    const req = this.#request(this.#o.url, {
      method: 'GET', agent: this.#agent,
      headers: this.#headers(this.#lastEventId === null ? { accept: 'text/event-stream' } : { accept: 'text/event-stream', 'last-event-id': this.#lastEventId }),
    });
    this.#get = req;
    const ended = (): void => {
      if (this.#get !== req) return;
      this.#get = null;
      if (this.#closing || !this.#getWanted) return;
      // Dropped: open it again, resuming after the last event seen.
      this.#getTimer = setTimeout(() => {
        this.#getTimer = null;
        this.#startGet();
      }, this.#getRetryMs);
      this.#getRetryMs = Math.min(GET_RETRY_MAX_MS, this.#getRetryMs * 2);
    };
    req.on('error', ended);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status === 405) {
        // The server offers no stream of its own.
        this.#getWanted = false;
        this.#get = null;
        res.resume();
        return;
      }
      if (status === 404 && this.#o.recover && this.#initBody !== null) {
        res.resume();
        this.#get = null;
        void this.#recover();
        return;
      }
      if (status < 200 || status >= 300 || !String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        this.#o.log.warn({ status }, 'the upstream refused the GET stream');
        res.resume();
        this.#getWanted = status >= 500;
        return ended();
      }
      this.#getRetryMs = GET_RETRY_FIRST_MS;
      const reader = new SseReader(this.#o.maxBodyBytes, (b, s, e) => {
        this.#lastEventId = reader.eventId;
        this.#o.onMessage(Buffer.from(b.subarray(s, e)));
      }, true);
      res.on('data', (chunk: Buffer) => {
        reader.push(chunk);
        this.#backpressure(res);
      });
      res.on('error', () => {});
      res.on('close', ended);
    });
    req.end();
  }

  /** A stream waits while the client's output drains: nothing is buffered without a bound. */
  #backpressure(res: http.IncomingMessage): void {
    if (!this.#o.blocked() || res.isPaused()) return;
    res.pause();
    this.#o.onDrain(() => res.resume());
  }

  #stopGet(): void {
    this.#getWanted = false;
    if (this.#getTimer !== null) clearTimeout(this.#getTimer);
    this.#getTimer = null;
    const get = this.#get;
    this.#get = null;
    get?.destroy();
  }
}

/** Reads a body up to `limit` bytes (past it: what was read, the rest discarded). */
function readBounded(res: http.IncomingMessage, limit: number, done: (body: Buffer) => void): void {
  const parts: Buffer[] = [];
  let bytes = 0;
  let finished = false;
  const end = (): void => {
    if (finished) return;
    finished = true;
    done(bytes > limit ? Buffer.alloc(0) : Buffer.concat(parts));
  };
  res.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes <= limit) parts.push(chunk);
  });
  res.on('end', end);
  res.on('close', end);
  res.on('error', end);
}

/** The messages of a JSON body: itself, or each member of a batch. */
function splitJson(body: Buffer): Buffer[] {
  let i = 0;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  if (body[i] !== 0x5b) return [body];
  try {
    const list = JSON.parse(body.toString('utf8')) as unknown;
    return Array.isArray(list) ? list.map((m) => Buffer.from(JSON.stringify(m), 'utf8')) : [body];
  } catch {
    return [];
  }
}
