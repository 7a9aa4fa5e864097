// A legacy HTTP+SSE MCP server (protocol 2024-11-05) as a line transport for the message
// bridge: one GET of the SSE URL is the session; its first event, `endpoint`, names where
// each message is POSTed, and the server's messages arrive as the stream's later events.
// The endpoint must be on the origin the user named: the proxy never posts a client's
// messages to a host it was not pointed at. POSTs go one at a time, in order (the
// handshake's notification before the next request). A POST the server refuses answers
// its request with a JSON-RPC error here, so nothing waits for ever; the stream ending
// ends the transport.

import type http from 'node:http';
import type { LineHandler, LineUpstream } from './line-upstream.js';
import { ProxyError, UpstreamBrokenError, UpstreamStatusError, UpstreamTimeoutError } from '../errors.js';
import { errorBody } from '../http/error-response.js';
import { SseReader } from '../mcp/sse-reader.js';
import type { Logger } from '../observe/logger.js';
import { connectFailure, httpClientKit, type HttpClientKit } from './http-agent.js';
import { publicUrl } from './public-url.js';

/** How the SSE server is reached. */
export interface SseUpstreamOptions {
  readonly url: URL;
  readonly headers: readonly { readonly name: string; readonly value: string }[];
  readonly ca: string | null;
  readonly verify: boolean;
  /** Time to connect and receive the endpoint event. */
  readonly connectTimeoutMs: number;
  readonly maxLineBytes: number;
  readonly log: Logger;
}

/** Bytes of messages waiting to be POSTed past which send() refuses (as a child's stdin backlog). */
const QUEUE_LIMIT = 8 * 1024 * 1024;

/** The id of a message line as JSON text, or null (a notification, a response, unreadable). */
function requestIdOf(line: string): string | null {
  try {
    const m = JSON.parse(line) as { id?: unknown; method?: unknown };
    return typeof m.method === 'string' && m.id !== undefined && m.id !== null ? JSON.stringify(m.id) : null;
  } catch {
    return null;
  }
}

/** One session with a legacy SSE server. */
export class SseUpstream implements LineUpstream {
  readonly command: readonly string[];
  readonly pid = null;
  readonly stderrTail = '';
  readonly #o: SseUpstreamOptions;
  readonly #kit: HttpClientKit;
  #handler: LineHandler | null = null;
  #early: Buffer[] = [];
  #endpoint: URL | null = null;
  #stream: http.ClientRequest;
  #queue: string[] = [];
  #queued = 0;
  #posting = false;
  #ended: { error: Error | null } | null = null;
  #stopping = false;
  #resolveGone: () => void = () => {};
  readonly gone: Promise<void>;

  constructor(options: SseUpstreamOptions) {
    this.#o = options;
    this.command = [publicUrl(options.url)];
    this.#kit = httpClientKit(options.url, options.ca, options.verify);
    this.gone = new Promise((r) => (this.#resolveGone = r));
    const headers: http.OutgoingHttpHeaders = { accept: 'text/event-stream' };
    for (const { name, value } of options.headers) headers[name] = value;
    const req = this.#kit.request(options.url, { method: 'GET', agent: this.#kit.agent, headers });
    this.#stream = req;
    const timer = setTimeout(() => req.destroy(new UpstreamTimeoutError(`no endpoint event from the SSE server within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      this.#end(err instanceof ProxyError || this.#endpoint !== null ? err : connectFailure(err));
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300 || !String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        clearTimeout(timer);
        res.resume();
        return this.#end(new UpstreamStatusError(status));
      }
      const reader = new SseReader(options.maxLineBytes, (b, s, e) => {
        if (this.#endpoint !== null) return this.#deliver(Buffer.from(b.subarray(s, e)));
        // The first event is the endpoint (the 2024-11-05 transport sends it before any message).
        clearTimeout(timer);
        const named = b.toString('utf8', s, e).trim();
        let endpoint: URL;
        try {
          endpoint = new URL(named, options.url);
        } catch {
          return void req.destroy(new UpstreamBrokenError(`the SSE server's endpoint event is not a URL: ${named.slice(0, 100)}`));
        }
        if (endpoint.origin !== options.url.origin) {
          options.log.warn({ upstream: publicUrl(options.url), endpoint: endpoint.origin }, 'the SSE server named an endpoint on another origin: refused');
          return void req.destroy(new UpstreamBrokenError(`the SSE server named an endpoint on another origin (${endpoint.origin}): refused`));
        }
        this.#endpoint = endpoint;
        this.#pump();
      });
      res.on('data', (chunk: Buffer) => reader.push(chunk));
      res.on('error', () => {});
      res.on('close', () => {
        clearTimeout(timer);
        this.#end(this.#endpoint === null ? new UpstreamBrokenError('the SSE server ended the stream before its endpoint event') : null);
      });
    });
    req.end();
  }

  get usable(): boolean {
    return this.#ended === null && !this.#stopping;
  }

  own(handler: LineHandler, _log: Logger): void {
    this.#handler = handler;
    const early = this.#early;
    this.#early = [];
    for (const l of early) handler.line(l);
    if (this.#ended !== null) handler.exit(null, null, this.#ended.error);
  }

  send(line: Buffer | string): boolean {
    if (!this.usable || this.#queued > QUEUE_LIMIT) return false;
    const text = typeof line === 'string' ? line : line.toString('utf8');
    this.#queue.push(text);
    this.#queued += text.length;
    this.#pump();
    return true;
  }

  stop(): Promise<void> {
    this.#stopping = true;
    this.#stream.destroy();
    return this.gone;
  }

  kill(): void {
    void this.stop();
  }

  startFailure(err: Error): ProxyError {
    return err instanceof ProxyError ? err : connectFailure(err as NodeJS.ErrnoException);
  }

  #deliver(line: Buffer): void {
    if (this.#handler !== null) this.#handler.line(line);
    else this.#early.push(line);
  }

  /** POSTs the next waiting message once the endpoint is known and the one before is answered. */
  #pump(): void {
    if (this.#posting || this.#endpoint === null || this.#ended !== null) return;
    const text = this.#queue.shift();
    if (text === undefined) return;
    this.#queued -= text.length;
    this.#posting = true;
    const body = Buffer.from(text, 'utf8');
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': body.length };
    for (const { name, value } of this.#o.headers) headers[name] = value;
    const req = this.#kit.request(this.#endpoint, { method: 'POST', agent: this.#kit.agent, headers });
    const timer = setTimeout(() => req.destroy(new UpstreamTimeoutError('the SSE server did not take a message in time')), this.#o.connectTimeoutMs);
    const next = (failure: ProxyError | null): void => {
      clearTimeout(timer);
      if (failure !== null) {
        const id = requestIdOf(text);
        this.#o.log.warn({ upstream: publicUrl(this.#o.url), err: failure.message }, 'the SSE server refused a message');
        if (id !== null) this.#deliver(Buffer.from(errorBody(failure, id), 'utf8'));
      }
      this.#posting = false;
      this.#pump();
    };
    req.on('error', (err: NodeJS.ErrnoException) => next(err instanceof UpstreamTimeoutError ? err : connectFailure(err)));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      res.on('end', () => next(status >= 200 && status < 300 ? null : new UpstreamStatusError(status)));
    });
    req.end(body);
  }

  #end(error: Error | null): void {
    if (this.#ended !== null) return;
    this.#ended = { error: this.#endpoint === null ? error ?? new UpstreamBrokenError('the SSE stream ended') : null };
    this.#queue = [];
    this.#kit.agent.destroy();
    this.#handler?.exit(null, null, this.#ended.error);
    this.#resolveGone();
  }
}
