// MCP awareness as an observer: JSON-RPC messages in request bodies, JSON response
// bodies and text/event-stream `data:` events are read (the envelope only, see
// envelope.ts; up to --inspect-limit bytes) into one McpMessage each and handed to the
// app's observers (message.ts), the first of which counts them per method and
// correlates request → response for latency. It copies what it needs, never delays a
// write, and never rejects traffic: what it cannot read it counts.

import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { view } from '../bytes.js';
import { BodyCollector } from '../http/body-collector.js';
import type { RequestHead, ResponseHead } from '../http/head.js';
import { isEventStream, isJson } from '../http/media-type.js';
import type { Metrics } from '../observe/metrics.js';
import type { Correlator, Pending } from './correlator.js';
import { CallEnvelope, closesAfter, Envelope, ENVELOPE_FALLBACK, ENVELOPE_MALFORMED, ENVELOPE_OK, inspectedId, readCallEnvelope, readEnvelope } from './envelope.js';
import { classify, methodLabel, parseMessages, type MessageKind } from './jsonrpc.js';
import type { HttpFacts, LazyLogger, McpMessage, MessageHooks, MessageObserver, Sender, SkippedBody } from './message.js';
import type { CounterSeries, HistogramSeries } from '../observe/hot-metrics.js';
import { requestIdOf } from './request-id.js';
import { SseReader } from './sse-reader.js';

/** Where the messages a sink reads come from; the inspector of a connection keeps one. */
export interface MessageOrigin {
  readonly proxySession: string;
  /** The MCP session of the request (a response keeps its request's). */
  mcpSession: string | null;
  readonly clientIp: string;
  /** Messages read from a GET event stream. */
  onGetStream: boolean;
  /** The exchange's HTTP facts, when an observer wants them (else null). */
  http: ExchangeFacts | null;
  readonly log: LazyLogger;
}

/** One side of an HTTP exchange, as observers that ask see it (McpMessage.http). */
export class ExchangeFacts implements HttpFacts {
  eventId: string | null = null;
  constructor(
    readonly exchange: number,
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly contentType: string | null,
    readonly mcpSessionId: string | null,
    readonly lastEventId: string | null,
  ) {}
}

/** The value of a header of `head` by lower-case name, or null. */
function headerValue(head: RequestHead, name: string): string | null {
  for (const f of head.fields) if (f.name === name) return head.raw.toString('latin1', f.valueStart, f.valueEnd);
  return null;
}

/** The path of a request target, without its query. */
function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

/** The series one method label counts into, bound on first use. */
class MethodSeries {
  toServer: CounterSeries | null = null;
  toClient: CounterSeries | null = null;
  errors: CounterSeries | null = null;
  duration: HistogramSeries | null = null;
}

const NO_BYTES = Buffer.alloc(0);
/** Body collectors kept for reuse by the sink. */
const SPARE_COLLECTORS = 1024;
const NO_LOG: LazyLogger = () => {
  throw new Error('no message is passing');
};

const NAMED_METHODS: ReadonlySet<string> = new Set(['tools/call', 'prompts/get', 'resources/read']);
const nameCall = new CallEnvelope();

/** The tool or prompt name (or resource uri) of a request of a named method, read from its bytes. */
function nameIn(bytes: Buffer, method: string): string | null {
  if (readCallEnvelope(bytes, 0, bytes.length, nameCall) === ENVELOPE_OK) return method === 'resources/read' ? nameCall.uri : nameCall.name;
  const messages = parseMessages(bytes.toString('utf8'));
  return messages === null || messages.length !== 1 ? null : classify(messages[0]).tool;
}

/** The McpMessage a sink hands to observers, refilled for each message. */
class PassingMessage implements McpMessage {
  from: Sender = 'client';
  proxySession = '';
  mcpSession: string | null = null;
  kind: MessageKind = 'invalid';
  method = '';
  id: string | null = null;
  /** undefined: not read yet. The envelope read stops before params; the name is read only
   *  when some observer asks (the debug log, an embedder's hook), off the path of every call. */
  #name: string | null | undefined = null;
  // The message's bytes as a range of the read that carried them: the Buffer view is made
  // only when an observer asks (the recorder, a name read), not for every message counted.
  #buf: Buffer = NO_BYTES;
  #start = 0;
  #end = 0;
  #bytes: Buffer | null = NO_BYTES;
  clientIp = '';
  onGetStream = false;
  http: HttpFacts | null = null;
  log: LazyLogger = NO_LOG;

  get bytes(): Buffer {
    return this.#bytes ??= view(this.#buf, this.#start, this.#end);
  }

  /** The message lies in buf[start, end). */
  setBytes(buf: Buffer, start: number, end: number): void {
    this.#buf = buf;
    this.#start = start;
    this.#end = end;
    this.#bytes = null;
  }

  /** The message's bytes as a view made already: the messages of a batch share one, so the recorder writes the batch once. */
  setView(bytes: Buffer): void {
    this.#buf = bytes;
    this.#start = 0;
    this.#end = bytes.length;
    this.#bytes = bytes;
  }

  get name(): string | null {
    if (this.#name === undefined) this.#name = nameIn(this.bytes, this.method);
    return this.#name;
  }

  set name(name: string | null | undefined) {
    this.#name = name;
  }
}

/** Turns observed bytes into McpMessages (the envelope only, up to --inspect-limit) and hands each to the app's observers. */
export class McpMessageSink {
  readonly limitBytes: number;
  readonly #fullParse: boolean;
  readonly #hooks: MessageHooks;
  readonly #metrics: Metrics;
  readonly #envelope = new Envelope();
  readonly #message = new PassingMessage();
  /** Told of what could not be read as JSON-RPC (the conformance lint), or null. */
  onMalformed: ((from: Sender, bytes: Buffer) => void) | null = null;
  /** Some observer reads HTTP facts, skipped bodies and session ends (the recorder). */
  readonly wantsHttp: boolean;
  #exchanges = 0;
  readonly #collectors: BodyCollector[] = [];
  /** Every observer takes runs (MessageHooks.takesRuns), and messages are read by envelope. */
  readonly #runs: boolean;
  // The run of one notification being counted within a read: the origin, sender and method
  // of its first message (told already, and still in #message), and the repeats since.
  #runOrigin: MessageOrigin | null = null;
  #runFrom: Sender = 'server';
  #runMethod = '';
  #run = 0;
  #endQueued = false;
  // A body the policy gate has just read strictly, and what this sink's own read would find
  // in it: body() of that very buffer takes it rather than reading the bytes again.
  #offered: Buffer | null = null;
  #offeredMethod = '';
  #offeredId: string | null = null;

  /** `fullParse`: read every message with JSON.parse, for the tool names debug lines show. */
  constructor(hooks: MessageHooks, metrics: Metrics, limitBytes: number, fullParse: boolean) {
    this.#hooks = hooks;
    this.#metrics = metrics;
    this.limitBytes = limitBytes;
    this.#fullParse = fullParse;
    this.wantsHttp = hooks.wantsHttp;
    // HTTP facts change per event (the event id): a run could not carry them.
    this.#runs = hooks.takesRuns && !hooks.wantsHttp && !fullParse;
  }

  /** A collector for one body, from the sink's spares: an idle session holds none. */
  takeCollector(): BodyCollector {
    return this.#collectors.pop() ?? new BodyCollector();
  }

  /** Takes a collector back once its body was read (or abandoned). */
  giveCollector(c: BodyCollector): void {
    c.reset();
    if (this.#collectors.length < SPARE_COLLECTORS) this.#collectors.push(c);
  }

  /** The next exchange number (HttpFacts.exchange). */
  nextExchange(): number {
    return ++this.#exchanges;
  }

  /** A body that passed unread: counted, and told to the observers that asked. */
  skippedBody(reason: SkippedBody['reason'], from: Sender, origin: MessageOrigin, bytes: number): void {
    if (this.#runOrigin !== null) this.endRead();
    this.skipped(reason);
    if (this.wantsHttp) {
      this.#hooks.skipped({ from, proxySession: origin.proxySession, mcpSession: origin.mcpSession, reason, bytes, http: origin.http });
    }
  }

  /** The client ended an MCP session. */
  mcpSessionEnded(mcpSession: string): void {
    if (this.#runOrigin !== null) this.endRead();
    this.#hooks.mcpSessionEnded(mcpSession);
  }

  /** A proxy session ended. */
  proxySessionEnded(proxySession: string): void {
    if (this.#runOrigin !== null) this.endRead();
    this.#hooks.proxySessionEnded(proxySession);
  }

  /** Observes the JSON body or line in buf[start, end) (a message or a batch) sent by `from`. */
  bytes(buf: Buffer, start: number, end: number, from: Sender, origin: MessageOrigin): void {
    this.#take(this.#fullParse ? ENVELOPE_FALLBACK : readEnvelope(buf, start, end, this.#envelope), buf, start, end, from, origin);
  }

  /**
   * Observes one event of a stream, as bytes() does, except that a notification like the one
   * before it in the same read (same origin, sender and method) is counted into a run rather
   * than told: a progress stream costs a compare per event, not a round of the observers.
   * The caller ends each read with endRead(), which tells the run.
   */
  streamed(buf: Buffer, start: number, end: number, from: Sender, origin: MessageOrigin): number {
    if (!this.#runs) {
      this.bytes(buf, start, end, from, origin);
      return 0;
    }
    const env = this.#envelope;
    const read = readEnvelope(buf, start, end, env);
    if (read === ENVELOPE_OK && env.repeated && origin === this.#runOrigin && env.method === this.#runMethod && from === this.#runFrom) {
      this.#run++;
      return env.prefixLength;
    }
    if (this.#runOrigin !== null) this.endRead();
    this.#take(read, buf, start, end, from, origin);
    if (read === ENVELOPE_OK && env.kind === 'notification') {
      this.#runOrigin = origin;
      this.#runFrom = from;
      this.#runMethod = env.method;
      return env.prefixLength;
    }
    return 0;
  }

  /** The method of the run streamed() counts into (what a message it returned a prefix length for was). */
  get runMethod(): string {
    return this.#runMethod;
  }

  /**
   * An event its reader found to start as one streamed() returned a prefix length for did
   * (`method`, `prefixLength`): counted into the run without reading its envelope again when
   * the run is that method's on this origin, read as streamed() reads it otherwise.
   */
  streamedAgain(buf: Buffer, start: number, end: number, from: Sender, origin: MessageOrigin, method: string, prefixLength: number): void {
    if (this.countsAgain(from, origin, method) && closesAfter(buf, start + prefixLength - 1, end)) this.#run++;
    else this.streamed(buf, start, end, from, origin);
  }

  /** Repeats of `method` from this origin and sender would each be counted into the run now (streamedAgain, when their data closes). */
  countsAgain(from: Sender, origin: MessageOrigin, method: string): boolean {
    return origin === this.#runOrigin && method === this.#runMethod && from === this.#runFrom;
  }

  /** Counts `times` repeats into the run, each one countsAgain() said would be and whose data closes (SseRepeatRun). */
  countAgain(times: number): void {
    this.#run += times;
  }

  /**
   * The read that streamed() messages came in is done, but more pieces of the same socket read
   * may follow (a chunked body hands its chunks over one by one): the run is told once this
   * turn's work is done, or sooner when any other message is told.
   */
  endReadSoon(): void {
    if (this.#runOrigin === null || this.#endQueued) return;
    this.#endQueued = true;
    queueMicrotask(this.#endQueuedRead);
  }

  readonly #endQueuedRead = (): void => {
    this.#endQueued = false;
    if (this.#runOrigin !== null) this.endRead();
  };

  /** The read that streamed() messages came in is done: its run (if any) is told. */
  endRead(): void {
    this.#runOrigin = null;
    const times = this.#run;
    if (times === 0) return;
    this.#run = 0;
    this.#hooks.repeat(this.#message, times);
  }

  #take(read: number, buf: Buffer, start: number, end: number, from: Sender, origin: MessageOrigin): void {
    if (read === ENVELOPE_OK) {
      const env = this.#envelope;
      this.#emit(env.kind, env.method, env.id, env.kind === 'request' && NAMED_METHODS.has(env.method) ? undefined : null, buf, start, end, from, origin);
    } else if (read === ENVELOPE_FALLBACK) {
      this.#parse(buf, start, end, from, origin);
    } else if (read === ENVELOPE_MALFORMED) {
      this.skippedBody('malformed', from, origin, end - start);
      this.onMalformed?.(from, buf.subarray(start, end));
    }
  }

  /** Observes one whole body or line. */
  body(buf: Buffer, from: Sender, origin: MessageOrigin): void {
    // Without a gate nothing is ever offered: one compare.
    const offered = this.#offered;
    if (offered !== null) this.#offered = null;
    if (buf === offered) {
      const method = this.#offeredMethod;
      const id = this.#offeredId;
      const kind = id === null ? 'notification' : 'request';
      this.#emit(kind, method, id, kind === 'request' && NAMED_METHODS.has(method) ? undefined : null, buf, 0, buf.length, from, origin);
      return;
    }
    this.bytes(buf, 0, buf.length, from, origin);
  }

  /**
   * The gate read `body` strictly into `env` (null: it read nothing it can offer): body() of
   * the same buffer, which comes next when the message goes on, tells what was read, when
   * this sink's own read is sure to find the same (mcp/envelope.ts inspectedId).
   */
  offer(body: Buffer | null, env: CallEnvelope): void {
    this.#offered = null;
    if (body === null || this.#fullParse || env.method === null) return;
    const id = inspectedId(env);
    if (id === undefined) return;
    this.#offered = body;
    this.#offeredMethod = methodLabel(env.method);
    this.#offeredId = id;
  }

  #parse(buf: Buffer, start: number, end: number, from: Sender, origin: MessageOrigin): void {
    const text = buf.toString('utf8', start, end);
    if (text.trim() === '') return;
    const messages = parseMessages(text);
    if (messages === null) {
      this.skippedBody('malformed', from, origin, end - start);
      this.onMalformed?.(from, buf.subarray(start, end));
      return;
    }
    const bytes = buf.subarray(start, end);
    for (const m of messages) {
      const info = classify(m);
      this.#emit(info.kind, info.method, info.id, info.tool, bytes, -1, -1, from, origin);
    }
  }

  #emit(kind: MessageKind, method: string, id: string | null, name: string | null | undefined, buf: Buffer, start: number, end: number, from: Sender, origin: MessageOrigin): void {
    // A run open in #message is told before the object is refilled.
    if (this.#runOrigin !== null) this.endRead();
    // One message object, refilled: observers get it for the call only (message.ts), so the
    // path that every request takes allocates nothing for it.
    const m = this.#message;
    m.from = from;
    m.proxySession = origin.proxySession;
    m.mcpSession = origin.mcpSession;
    m.kind = kind;
    m.method = method;
    m.id = id;
    m.name = name;
    // start -1: buf is the batch's shared view.
    if (start === -1) m.setView(buf);
    else m.setBytes(buf, start, end);
    m.clientIp = origin.clientIp;
    m.onGetStream = origin.onGetStream;
    m.http = origin.http;
    m.log = origin.log;
    this.#hooks.observe(m);
  }

  /** Counts a body the inspector did not parse: not_json, too_large or malformed. */
  skipped(reason: string): void {
    this.#metrics.mcpUnparsed.labels(reason).inc();
  }
}

/** The metrics observer: messages counted per method and direction, requests correlated with their responses for latency, and (debug) one line per message. */
export class McpMetricsObserver implements MessageObserver {
  readonly #debug: boolean;
  readonly #metrics: Metrics;
  readonly #correlator: Correlator;
  readonly #series = new Map<string, MethodSeries>();
  #lastMethod: string | null = null;
  #lastSeries: MethodSeries | null = null;

  constructor(metrics: Metrics, correlator: Correlator, debug: boolean) {
    this.#metrics = metrics;
    this.#correlator = correlator;
    this.#debug = debug;
  }

  onMessage(m: McpMessage): void {
    const from = m.from;
    const kind = m.kind;
    const scope = m.mcpSession ?? m.proxySession;
    let method = m.method;
    let pending: Pending | undefined;
    if (kind === 'request') {
      this.#correlator.start(scope, from, m.id!, method, performance.now());
    } else if (kind === 'result' || kind === 'error') {
      pending = m.id === null ? undefined : this.#correlator.finish(scope, from === 'client' ? 'server' : 'client', m.id);
      method = pending?.method ?? 'unknown';
    }
    const series = this.#seriesOf(method);
    if (pending !== undefined) (series.duration ??= this.#metrics.mcpDuration.labels(method)).observe((performance.now() - pending.startedAt) / 1000);
    if (kind === 'error') (series.errors ??= this.#metrics.mcpErrors.labels(method)).inc();
    if (from === 'client') (series.toServer ??= this.#metrics.mcpMessages.labels(method, 'client_to_server')).inc();
    else (series.toClient ??= this.#metrics.mcpMessages.labels(method, 'server_to_client')).inc();
    if (this.#debug) {
      m.log().debug({ mcp: scope, kind, method, id: m.id, tool: m.name ?? undefined, from }, 'mcp message');
    }
  }

  onRepeat(m: McpMessage, times: number): void {
    if (m.kind !== 'notification' || this.#debug) {
      for (let i = 0; i < times; i++) this.onMessage(m);
      return;
    }
    const series = this.#seriesOf(m.method);
    if (m.from === 'client') (series.toServer ??= this.#metrics.mcpMessages.labels(m.method, 'client_to_server')).inc(times);
    else (series.toClient ??= this.#metrics.mcpMessages.labels(m.method, 'server_to_client')).inc(times);
  }

  #seriesOf(method: string): MethodSeries {
    // A stream of one notification asks for the same series again and again: no map lookup.
    if (method === this.#lastMethod) return this.#lastSeries!;
    let series = this.#series.get(method);
    if (series === undefined) {
      series = new MethodSeries();
      this.#series.set(method, series);
    }
    this.#lastMethod = method;
    this.#lastSeries = series;
    return series;
  }
}

/** One L7 session's view of MCP over Streamable HTTP; it is also the origin of the messages it reads (no second object per session). */
export class McpInspector implements MessageOrigin {
  readonly proxySession: string;
  mcpSession: string | null = null;
  readonly clientIp: string;
  onGetStream = false;
  http: ExchangeFacts | null = null;
  readonly log: LazyLogger;
  readonly #sink: McpMessageSink;
  #request: BodyCollector | null = null;
  #response: BodyCollector | null = null;
  #sse: SseReader | null = null;
  // With an observer that wants HTTP facts: the sizes of bodies that pass unread.
  #reqSkip: SkippedBody['reason'] | null = null;
  #resSkip: SkippedBody['reason'] | null = null;
  #skipBytes = 0;
  #reqFacts: ExchangeFacts | null = null;
  /** The MCP session a DELETE being answered ends. */
  #deleted: string | null = null;
  /** The request body read whole, kept until its response head (an error the proxy writes before then names its id). */
  #unanswered: Buffer | null = null;

  constructor(sink: McpMessageSink, log: LazyLogger, proxySessionId: string, clientIp: string) {
    this.#sink = sink;
    this.proxySession = proxySessionId;
    this.clientIp = clientIp;
    this.log = log;
  }

  /** A request head: decide whether its body is a JSON-RPC message to read. */
  onRequestHead(req: RequestHead): void {
    this.mcpSession = req.mcpSessionId;
    this.#unanswered = null;
    this.#giveBack();
    this.#sse = null;
    const facts = this.#sink.wantsHttp;
    if (facts) {
      this.#reqFacts = new ExchangeFacts(this.#sink.nextExchange(), req.method, pathOf(req.target), 0, req.contentType, req.mcpSessionId, headerValue(req, 'last-event-id'));
      this.http = this.#reqFacts;
      this.#reqSkip = null;
      this.#resSkip = null;
    }
    if (req.method !== 'POST') return;
    if (!isJson(req.contentType)) {
      if (facts) this.#skipFrom(null, 'not_json');
      else this.#sink.skipped('not_json');
      return;
    }
    if (req.contentLength > this.#sink.limitBytes) {
      if (facts) this.#skipFrom(null, 'too_large');
      else this.#sink.skipped('too_large');
      return;
    }
    this.#request = this.#sink.takeCollector();
  }

  /** Collectors of an exchange that ended unread (a closed connection, a refused request) go back. */
  #giveBack(): void {
    if (this.#request !== null) this.#sink.giveCollector(this.#request);
    if (this.#response !== null) this.#sink.giveCollector(this.#response);
    this.#request = null;
    this.#response = null;
  }

  /** Starts counting a body that passes unread (only with an observer that wants to be told). */
  #skipFrom(res: ResponseHead | null, reason: SkippedBody['reason']): void {
    this.#skipBytes = 0;
    if (res === null) this.#reqSkip = reason;
    else this.#resSkip = reason;
  }

  onRequestBody(chunk: Buffer): void {
    if (this.#request !== null) this.#request.push(chunk, this.#sink.limitBytes);
    else if (this.#reqSkip !== null) this.#skipBytes += chunk.length;
  }

  onRequestEnd(): void {
    const body = this.#request;
    if (body === null) {
      if (this.#reqSkip !== null) {
        this.#sink.skippedBody(this.#reqSkip, 'client', this, this.#skipBytes);
        this.#reqSkip = null;
      }
      return;
    }
    this.#request = null;
    if (body.overflow) this.#sink.skippedBody('too_large', 'client', this, body.bytes);
    else {
      const whole = body.take();
      this.#unanswered = whole;
      this.#sink.body(whole, 'client', this);
    }
    this.#sink.giveCollector(body);
  }

  /** The id (JSON text) of the request read whole and not yet answered, or null. */
  requestIdJson(): string | null {
    return this.#unanswered === null ? null : requestIdOf(this.#unanswered);
  }

  /** A response head: JSON bodies are collected, event streams read event by event. */
  onResponseHead(req: RequestHead, res: ResponseHead): void {
    this.#unanswered = null;
    // The response keeps the request's scope, even when it is the one that first names
    // the MCP session (initialize): that is what lets the two be correlated.
    if (this.#sink.wantsHttp) {
      const q = this.#reqFacts;
      const facts = new ExchangeFacts(q?.exchange ?? this.#sink.nextExchange(), req.method, q?.path ?? pathOf(req.target), res.statusCode, res.contentType,
        res.mcpSessionId ?? req.mcpSessionId, q?.lastEventId ?? null);
      this.http = facts;
      // Told once the answer is through: its body belongs to the session's tape.
      this.#deleted = req.method === 'DELETE' && res.statusCode < 300 ? req.mcpSessionId : null;
    }
    if (isJson(res.contentType)) {
      if (this.#response !== null) this.#sink.giveCollector(this.#response);
      this.#response = this.#sink.takeCollector();
    } else if (isEventStream(res.contentType)) {
      // A stream outlives nothing on its connection, but keeps its own copy of where it came from.
      const own: MessageOrigin = { proxySession: this.proxySession, mcpSession: this.mcpSession, clientIp: this.clientIp, onGetStream: req.method === 'GET', http: this.http, log: this.log };
      const facts = own.http;
      const sink = this.#sink;
      // What the last event streamed() could count into a run was, for the reader's repeats of it.
      let sameMethod = '';
      let sameBytes = 0;
      const reader: SseReader = new SseReader(sink.limitBytes, facts === null
        ? (data, start, end) => {
          const same = sink.streamed(data, start, end, 'server', own);
          if (same > 0) {
            sameMethod = sink.runMethod;
            sameBytes = same;
          }
          return same;
        }
        : (data, start, end) => {
          facts.eventId = reader.eventId;
          sink.bytes(data, start, end, 'server', own);
        }, facts !== null, (data, start, end) => sink.streamedAgain(data, start, end, 'server', own, sameMethod, sameBytes), {
          countable: () => (sink.countsAgain('server', own, sameMethod) ? sameBytes : 0),
          count: (times) => sink.countAgain(times),
        });
      this.#sse = reader;
    } else if (this.#sink.wantsHttp) {
      this.#skipFrom(res, 'not_json');
    }
  }

  onResponseBody(chunk: Buffer): void {
    if (this.#response !== null) this.#response.push(chunk, this.#sink.limitBytes);
    else if (this.#sse !== null) {
      this.#sse.push(chunk);
      this.#sink.endReadSoon();
    }
    else if (this.#resSkip !== null) this.#skipBytes += chunk.length;
  }

  onResponseEnd(): void {
    this.#unanswered = null;
    const body = this.#response;
    this.#response = null;
    if (this.#sse !== null) {
      this.#sse = null;
      this.#sink.endRead();
    }
    if (body === null) {
      // An empty body (202, 204, a HEAD) is no message to tell of.
      if (this.#resSkip !== null && this.#skipBytes > 0) this.#sink.skippedBody(this.#resSkip, 'server', this, this.#skipBytes);
      this.#resSkip = null;
    } else {
      if (body.overflow) this.#sink.skippedBody('too_large', 'server', this, body.bytes);
      else if (body.bytes > 0) this.#sink.body(body.take(), 'server', this);
      this.#sink.giveCollector(body);
    }
    if (this.#deleted !== null) {
      const ended = this.#deleted;
      this.#deleted = null;
      this.#sink.mcpSessionEnded(ended);
    }
  }

  /** A decider answered the request: the answer is the server's message. */
  onAnswer(body: Buffer): void {
    this.#unanswered = null;
    if (this.#sink.wantsHttp) {
      const q = this.#reqFacts;
      this.http = new ExchangeFacts(q?.exchange ?? this.#sink.nextExchange(), q?.method ?? 'POST', q?.path ?? '', 200, 'application/json', q?.mcpSessionId ?? null, null);
    }
    this.#sink.body(body, 'server', this);
  }
}
