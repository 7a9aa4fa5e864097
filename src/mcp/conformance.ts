// Conformance lint (docs/reference.md "MCP-aware resilience"): what the proxy sees that breaks the MCP
// transport spec, counted per rule with the latest example, for server (and client)
// authors. It only reads what the exchange and the inspector already have in hand (heads,
// message kinds, the first bytes of a body); it never changes traffic. The first time a
// rule fires it is logged at warn; after that it is counted.

import type { RequestHead, ResponseHead } from '../http/head.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { CounterSeries } from '../observe/hot-metrics.js';
import type { McpMessage, MessageObserver } from './message.js';

/** The rules, with what each means (shown by GET /conformance). */
export const CONFORMANCE_RULES: Readonly<Record<string, string>> = Object.freeze({
  'unknown-session-status': 'a request for a session the server never issued was answered with a status other than 404',
  '202-with-body': 'a 202 Accepted response carried a body',
  'response-on-get-stream': 'a JSON-RPC response arrived on a GET event stream (responses belong on the POST that asked)',
  'non-json-stdout': 'a stdio server wrote a line to stdout that is not JSON-RPC',
  'missing-protocol-version': 'a request after initialize carried no MCP-Protocol-Version header',
  'sse-without-event-stream-type': 'a response body framed as server-sent events was not typed text/event-stream',
  'session-id-characters': 'a server issued an Mcp-Session-Id with characters outside 0x21-0x7E',
});

/** What a breach is recorded with (the time is added when it is shown). */
type Example = Omit<ConformanceExample, 'at'>;

/** The latest example of a rule. */
export interface ConformanceExample {
  readonly at: string;
  readonly method: string | null;
  readonly session: string | null;
  readonly status: number | null;
  readonly excerpt: string;
}

const EXCERPT_BYTES = 200;
/** Session ids the upstream issued, remembered to tell an unknown session from a bad request. */
const ISSUED_LIMIT = 65536;
const SSE_START = /^(?:data|event|id|retry):|^:/;

/** Process-wide lint state: counts and latest examples per rule. */
export class ConformanceLint implements MessageObserver {
  readonly #metrics: Metrics;
  readonly #log: Logger;
  // A client or server that breaks a rule breaks it on every message: after the first, a
  // breach costs a count and a reference to its example, nothing formatted.
  readonly #counts = new Map<string, { count: number; latest: Example; atMs: number; series: CounterSeries }>();
  readonly #issued = new Set<string>();
  #lastCleanId = '';

  constructor(metrics: Metrics, log: Logger) {
    this.#metrics = metrics;
    this.#log = log;
  }

  /** Records one breach of `rule`. */
  report(rule: string, example: Example): void {
    const entry = this.#counts.get(rule);
    if (entry === undefined) {
      const series = this.#metrics.mcpConformance.labels(rule);
      series.inc();
      this.#counts.set(rule, { count: 1, latest: example, atMs: Date.now(), series });
      this.#log.warn({ rule, method: example.method ?? undefined, mcp: example.session ?? undefined, status: example.status ?? undefined }, `conformance: ${CONFORMANCE_RULES[rule]}`);
      return;
    }
    entry.count++;
    entry.latest = example;
    entry.atMs = Date.now();
    entry.series.inc();
  }

  /** A request head (client side). */
  onRequest(req: RequestHead): void {
    if (req.mcpSessionId !== null && !req.mcpProtocolVersion) {
      this.report('missing-protocol-version', { method: req.method, session: req.mcpSessionId, status: null, excerpt: `${req.method} ${req.target}` });
    }
  }

  /** The upstream answered a session it forgot (held for --recover-sessions): anything but 404 breaks the transport spec. */
  onForgottenSession(req: RequestHead, res: ResponseHead): void {
    if (res.statusCode === 404) return;
    this.report('unknown-session-status', { method: req.method, session: req.mcpSessionId, status: res.statusCode, excerpt: `${req.method} ${req.target} → ${res.statusCode}` });
  }

  /** A response head with the request it answers. */
  onResponse(req: RequestHead, res: ResponseHead): void {
    const status = res.statusCode;
    const issued = res.mcpSessionId;
    if (issued !== null && issued !== this.#lastCleanId) {
      if (!/^[\x21-\x7e]+$/.test(issued)) {
        this.report('session-id-characters', { method: req.method, session: issued, status, excerpt: JSON.stringify(issued) });
      } else {
        this.#lastCleanId = issued;
      }
      if (this.#issued.size >= ISSUED_LIMIT) this.#issued.clear();
      this.#issued.add(issued);
    }
    const asked = req.mcpSessionId;
    if (asked !== null && status >= 400 && status < 500 && status !== 404 && !this.#issued.has(asked)) {
      this.report('unknown-session-status', { method: req.method, session: asked, status, excerpt: `${req.method} ${req.target} → ${status}` });
    }
    if (status === 202 && res.contentLength > 0) this.on202Body(req, res.contentLength);
  }

  /** A 202 came with body bytes (a Content-Length, or chunk data seen). */
  on202Body(req: RequestHead, bytes: number): void {
    this.report('202-with-body', { method: req.method, session: req.mcpSessionId, status: 202, excerpt: `202 with a body (${bytes} bytes seen)` });
  }

  /** The first body bytes of a 2xx response that is neither JSON nor an event stream. */
  onUntypedBody(req: RequestHead, res: ResponseHead, first: Buffer): void {
    const head = first.toString('latin1', 0, Math.min(first.length, 64));
    if (SSE_START.test(head)) {
      this.report('sse-without-event-stream-type', { method: req.method, session: req.mcpSessionId, status: res.statusCode, excerpt: `content-type ${res.contentType ?? '(none)'}: ${head}` });
    }
  }

  /** A line a stdio server wrote that is not JSON-RPC. */
  onNonJsonLine(line: Buffer): void {
    this.report('non-json-stdout', { method: null, session: null, status: null, excerpt: line.toString('utf8', 0, Math.min(line.length, EXCERPT_BYTES)) });
  }

  onMessage(m: McpMessage): void {
    if (m.onGetStream && (m.kind === 'result' || m.kind === 'error')) {
      this.report('response-on-get-stream', { method: null, session: m.mcpSession, status: 200, excerpt: m.bytes.toString('utf8', 0, Math.min(m.bytes.length, EXCERPT_BYTES)) });
    }
  }

  onRepeat(m: McpMessage, times: number): void {
    // The rule above is about responses; a run of notifications breaks none.
    if (m.kind === 'notification') return;
    for (let i = 0; i < times; i++) this.onMessage(m);
  }

  /** What GET /conformance shows: every rule, its count and latest example. */
  snapshot(): Record<string, { readonly meaning: string; readonly count: number; readonly latest: ConformanceExample | null }> {
    const out: Record<string, { meaning: string; count: number; latest: ConformanceExample | null }> = {};
    for (const [rule, meaning] of Object.entries(CONFORMANCE_RULES)) {
      const e = this.#counts.get(rule);
      out[rule] = {
        meaning, count: e?.count ?? 0,
        latest: e === undefined ? null : { at: new Date(e.atMs).toISOString(), ...e.latest, excerpt: e.latest.excerpt.slice(0, EXCERPT_BYTES) },
      };
    }
    return out;
  }
}
