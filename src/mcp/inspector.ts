// MCP awareness as an observer: JSON-RPC messages in request bodies, JSON response
// bodies and text/event-stream `data:` events are parsed (up to --inspect-limit bytes),
// counted per method, and correlated request → response for latency. It copies what it
// needs, never delays a write, and never rejects traffic: what it cannot read it counts.

import type { Logger } from 'pino';
import type { RequestHead, ResponseHead } from '../http/head.js';
import type { Metrics } from '../observe/metrics.js';
import type { Correlator } from './correlator.js';
import { classify, parseMessages } from './jsonrpc.js';
import { SseReader } from './sse-reader.js';

/** Who sent a message. */
export type Sender = 'client' | 'server';

/** A logger made on first use: most sessions never log, and a pino child costs memory. */
export type LazyLogger = () => Logger;

/** Process-wide sink for observed messages: metrics, correlation and debug logs. */
export class McpMessageSink {
  readonly limitBytes: number;
  readonly #debug: boolean;
  readonly #metrics: Metrics;
  readonly #correlator: Correlator;

  constructor(metrics: Metrics, correlator: Correlator, limitBytes: number, debug: boolean) {
    this.#metrics = metrics;
    this.#correlator = correlator;
    this.limitBytes = limitBytes;
    this.#debug = debug;
  }

  /** Observes one JSON body or line (a message or a batch) sent by `from` within `scope`. */
  text(text: string, from: Sender, scope: string, log: LazyLogger): void {
    const messages = parseMessages(text);
    if (messages === null) {
      this.skipped('malformed');
      return;
    }
    for (const m of messages) this.message(m, from, scope, log);
  }

  /** Observes one parsed message. */
  message(value: unknown, from: Sender, scope: string, log: LazyLogger): void {
    const info = classify(value);
    const direction = from === 'client' ? 'client_to_server' : 'server_to_client';
    const now = performance.now();
    let method = info.method;
    if (info.kind === 'request') {
      this.#correlator.start(scope, from, info.id!, info.method, now);
    } else if (info.kind === 'result' || info.kind === 'error') {
      const pending = info.id === null ? undefined : this.#correlator.finish(scope, from === 'client' ? 'server' : 'client', info.id);
      method = pending?.method ?? 'unknown';
      if (pending !== undefined) this.#metrics.mcpDuration.labels(method).observe((now - pending.startedAt) / 1000);
      if (info.kind === 'error') this.#metrics.mcpErrors.labels(method).inc();
    }
    this.#metrics.mcpMessages.labels(method, direction).inc();
    if (this.#debug) {
      log().debug({ mcp: scope, kind: info.kind, method, id: info.id, tool: info.tool ?? undefined, from }, 'mcp message');
    }
  }

  /** Counts a body the inspector did not parse: not_json, too_large or malformed. */
  skipped(reason: string): void {
    this.#metrics.mcpUnparsed.labels(reason).inc();
  }
}

function isJson(contentType: string | null): boolean {
  if (contentType === null) return false;
  const t = contentType.toLowerCase();
  return t.startsWith('application/json') || (t.startsWith('application/') && t.includes('+json'));
}

function isEventStream(contentType: string | null): boolean {
  return contentType !== null && contentType.toLowerCase().startsWith('text/event-stream');
}

/** Bounded body collector: keeps at most `limit` bytes, remembers whether it overflowed. */
class BodyCollector {
  parts: Buffer[] = [];
  bytes = 0;
  overflow = false;

  push(chunk: Buffer, limit: number): void {
    if (this.overflow) return;
    this.bytes += chunk.length;
    if (this.bytes > limit) {
      this.overflow = true;
      this.parts = [];
      return;
    }
    // No copy: node gives every socket read its own memory, never reused, so a slice of
    // it stays valid; we only keep it until the message ends.
    this.parts.push(chunk);
  }

  take(): string {
    const parts = this.parts;
    const text = (parts.length === 1 ? parts[0]! : Buffer.concat(parts)).toString('utf8');
    this.parts = [];
    this.bytes = 0;
    return text;
  }

  reset(): void {
    this.parts = [];
    this.bytes = 0;
    this.overflow = false;
  }
}

/** One L7 session's view of MCP over Streamable HTTP. */
export class McpInspector {
  readonly #sink: McpMessageSink;
  readonly #log: LazyLogger;
  readonly #fallbackScope: string;
  #scope = '';
  #request: BodyCollector | null = null;
  #response: BodyCollector | null = null;
  #sse: SseReader | null = null;
  // Made on first use: most connections of an idle session never need them again.
  #reqBody: BodyCollector | null = null;
  #resBody: BodyCollector | null = null;

  constructor(sink: McpMessageSink, log: LazyLogger, proxySessionId: string) {
    this.#sink = sink;
    this.#log = log;
    this.#fallbackScope = proxySessionId;
  }

  /** A request head: decide whether its body is a JSON-RPC message to read. */
  onRequestHead(req: RequestHead): void {
    this.#scope = req.mcpSessionId ?? this.#fallbackScope;
    this.#request = null;
    this.#response = null;
    this.#sse = null;
    if (req.method !== 'POST') return;
    if (!isJson(req.contentType)) {
      this.#sink.skipped('not_json');
      return;
    }
    if (req.contentLength > this.#sink.limitBytes) {
      this.#sink.skipped('too_large');
      return;
    }
    this.#reqBody ??= new BodyCollector();
    this.#reqBody.reset();
    this.#request = this.#reqBody;
  }

  onRequestBody(chunk: Buffer): void {
    this.#request?.push(chunk, this.#sink.limitBytes);
  }

  onRequestEnd(): void {
    const body = this.#request;
    if (body === null) return;
    this.#request = null;
    if (body.overflow) this.#sink.skipped('too_large');
    else this.#sink.text(body.take(), 'client', this.#scope, this.#log);
  }

  /** A response head: JSON bodies are collected, event streams read event by event. */
  onResponseHead(_req: RequestHead, res: ResponseHead): void {
    // The response keeps the request's scope, even when it is the one that first names
    // the MCP session (initialize): that is what lets the two be correlated.
    if (isJson(res.contentType)) {
      this.#resBody ??= new BodyCollector();
      this.#resBody.reset();
      this.#response = this.#resBody;
    } else if (isEventStream(res.contentType)) {
      const scope = this.#scope;
      this.#sse = new SseReader(this.#sink.limitBytes, (data) => this.#sink.text(data, 'server', scope, this.#log));
    }
  }

  onResponseBody(chunk: Buffer): void {
    if (this.#response !== null) this.#response.push(chunk, this.#sink.limitBytes);
    else this.#sse?.push(chunk);
  }

  onResponseEnd(): void {
    const body = this.#response;
    this.#response = null;
    this.#sse = null;
    if (body === null) return;
    if (body.overflow) this.#sink.skipped('too_large');
    else if (body.bytes > 0) this.#sink.text(body.take(), 'server', this.#scope, this.#log);
  }
}
