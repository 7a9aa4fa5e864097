// MCP awareness as an observer: JSON-RPC messages in request bodies, JSON response
// bodies and text/event-stream `data:` events are read (the envelope only, see
// envelope.ts; up to --inspect-limit bytes), counted per method, and correlated
// request → response for latency. It copies what it needs, never delays a write, and
// never rejects traffic: what it cannot read it counts.

import type { Logger } from 'pino';
import type { RequestHead, ResponseHead } from '../http/head.js';
import type { Metrics } from '../observe/metrics.js';
import type { Correlator, Pending } from './correlator.js';
import { Envelope, ENVELOPE_FALLBACK, ENVELOPE_MALFORMED, ENVELOPE_OK, readEnvelope } from './envelope.js';
import { classify, parseMessages, type MessageKind } from './jsonrpc.js';
import type { CounterSeries, HistogramSeries } from '../observe/hot-metrics.js';
import { SseReader } from './sse-reader.js';

/** Who sent a message. */
export type Sender = 'client' | 'server';

/** A logger made on first use: most sessions never log, and a pino child costs memory. */
export type LazyLogger = () => Logger;

/** The series one method label counts into, bound on first use. */
class MethodSeries {
  toServer: CounterSeries | null = null;
  toClient: CounterSeries | null = null;
  errors: CounterSeries | null = null;
  duration: HistogramSeries | null = null;
}

/** Process-wide sink for observed messages: metrics, correlation and debug logs. */
export class McpMessageSink {
  readonly limitBytes: number;
  readonly #debug: boolean;
  readonly #metrics: Metrics;
  readonly #correlator: Correlator;
  readonly #series = new Map<string, MethodSeries>();
  readonly #envelope = new Envelope();

  constructor(metrics: Metrics, correlator: Correlator, limitBytes: number, debug: boolean) {
    this.#metrics = metrics;
    this.#correlator = correlator;
    this.limitBytes = limitBytes;
    this.#debug = debug;
  }

  /** Observes the JSON body or line in buf[start, end) (a message or a batch) sent by `from` within `scope`. */
  bytes(buf: Buffer, start: number, end: number, from: Sender, scope: string, log: LazyLogger): void {
    // Debug logs name the tool of each call, which only the full parse gives.
    const read = this.#debug ? ENVELOPE_FALLBACK : readEnvelope(buf, start, end, this.#envelope);
    if (read === ENVELOPE_OK) {
      const env = this.#envelope;
      this.#record(env.kind, env.method, env.id, null, from, scope, log);
    } else if (read === ENVELOPE_FALLBACK) {
      this.#parse(buf.toString('utf8', start, end), from, scope, log);
    } else if (read === ENVELOPE_MALFORMED) {
      this.skipped('malformed');
    }
  }

  /** Observes one whole body or line. */
  body(buf: Buffer, from: Sender, scope: string, log: LazyLogger): void {
    this.bytes(buf, 0, buf.length, from, scope, log);
  }

  #parse(text: string, from: Sender, scope: string, log: LazyLogger): void {
    if (text.trim() === '') return;
    const messages = parseMessages(text);
    if (messages === null) {
      this.skipped('malformed');
      return;
    }
    for (const m of messages) {
      const info = classify(m);
      this.#record(info.kind, info.method, info.id, info.tool, from, scope, log);
    }
  }

  #record(kind: MessageKind, label: string, id: string | null, tool: string | null, from: Sender, scope: string, log: LazyLogger): void {
    let method = label;
    let pending: Pending | undefined;
    if (kind === 'request') {
      this.#correlator.start(scope, from, id!, method, performance.now());
    } else if (kind === 'result' || kind === 'error') {
      pending = id === null ? undefined : this.#correlator.finish(scope, from === 'client' ? 'server' : 'client', id);
      method = pending?.method ?? 'unknown';
    }
    const series = this.#seriesOf(method);
    if (pending !== undefined) (series.duration ??= this.#metrics.mcpDuration.labels(method)).observe((performance.now() - pending.startedAt) / 1000);
    if (kind === 'error') (series.errors ??= this.#metrics.mcpErrors.labels(method)).inc();
    if (from === 'client') (series.toServer ??= this.#metrics.mcpMessages.labels(method, 'client_to_server')).inc();
    else (series.toClient ??= this.#metrics.mcpMessages.labels(method, 'server_to_client')).inc();
    if (this.#debug) {
      log().debug({ mcp: scope, kind, method, id, tool: tool ?? undefined, from }, 'mcp message');
    }
  }

  #seriesOf(method: string): MethodSeries {
    let series = this.#series.get(method);
    if (series === undefined) {
      series = new MethodSeries();
      this.#series.set(method, series);
    }
    return series;
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

  take(): Buffer {
    const parts = this.parts;
    const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    this.parts = [];
    this.bytes = 0;
    return body;
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
    else this.#sink.body(body.take(), 'client', this.#scope, this.#log);
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
      this.#sse = new SseReader(this.#sink.limitBytes, (data, start, end) => this.#sink.bytes(data, start, end, 'server', scope, this.#log));
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
    else if (body.bytes > 0) this.#sink.body(body.take(), 'server', this.#scope, this.#log);
  }
}
