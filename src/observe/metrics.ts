// Prometheus metrics of one app (docs/reference.md "Admin API"). Counters that change per chunk are
// kept as plain numbers on sessions and summed only when scraped, so the hot path never
// pays for label lookups; per-request counters cache their labelled children.

import { Counter, Gauge, Registry as PromRegistry } from 'prom-client';
import { HotCounter, HotHistogram, type CounterSeries, type HistogramSeries } from './hot-metrics.js';

/** Live byte counts the metrics read at scrape time. */
export interface ByteSource {
  /** Bytes received from clients and sent to clients by sessions still alive. */
  liveBytes(): { in: number; out: number };
  liveSessions(): number;
}

/** The app's metric set, on its own prom-client registry (no global state). */
export class Metrics {
  readonly registry = new PromRegistry();
  readonly #sessionsTotal: Counter;
  readonly #sessionsRejected: Counter<'reason'>;
  readonly #sessionsExpired: Counter;
  readonly #requests: HotCounter;
  readonly #duration: HistogramSeries;
  readonly #upstreamErrors: HotCounter;
  // By number, so a request costs no String(status).
  readonly #byStatus = new Map<number, CounterSeries>();
  readonly mcpMessages: HotCounter;
  readonly mcpErrors: HotCounter;
  readonly mcpDuration: HotHistogram;
  readonly mcpUnparsed: HotCounter;
  readonly policyDecisions: HotCounter;
  readonly policyReloads: HotCounter;
  readonly mcpConformance: HotCounter;
  readonly mcpSessionsRecovered: HotCounter;
  readonly recorderDropped: HotCounter;
  readonly recorderTapes: HotCounter;
  #recorderQueued: (() => number) | null = null;
  #pool: (() => { idle: number; active: number; dialing: number }) | null = null;
  #children: (() => { ready: number; active: number }) | null = null;
  /** Bridged sessions' messages dropped from a full --event-buffer. */
  readonly bridgeEventsDropped: HotCounter;
  /** Requests refused by who-may-connect checks, by reason (origin, host). */
  readonly authFailures: HotCounter;
  /** --workers bridge: requests sent on to the worker holding their session. */
  readonly bridgeRelayed: HotCounter;
  /** Idle keep-alive sessions that shed their exchange (IdleClient). */
  readonly sessionsShed: HotCounter;
  #closedBytesIn = 0;
  #closedBytesOut = 0;

  constructor(source: ByteSource) {
    const registers = [this.registry];
    // Gauges and byte totals are computed when scraped; nothing on the hot path.
    new Gauge({
      name: 'shadowcat_sessions_active', help: 'Sessions alive now', registers,
      collect() { this.set(source.liveSessions()); },
    });
    const self = this;
    new Counter({
      name: 'shadowcat_bytes_total', help: 'Bytes proxied, by direction (in: from clients, out: to clients)',
      labelNames: ['direction'] as const, registers,
      collect() {
        const live = source.liveBytes();
        this.reset();
        this.inc({ direction: 'in' }, self.#closedBytesIn + live.in);
        this.inc({ direction: 'out' }, self.#closedBytesOut + live.out);
      },
    });
    this.#sessionsTotal = new Counter({ name: 'shadowcat_sessions_total', help: 'Sessions started', registers });
    this.#sessionsRejected = new Counter({
      name: 'shadowcat_sessions_rejected_total', help: 'Connections refused at admission', labelNames: ['reason'] as const, registers,
    });
    this.#sessionsExpired = new Counter({ name: 'shadowcat_sessions_expired_total', help: 'Sessions closed for idleness', registers });
    const reg = this.registry;
    this.#requests = new HotCounter(reg, 'shadowcat_requests_total', 'Requests answered, by status', ['status']);
    this.#duration = new HotHistogram(reg, 'shadowcat_request_duration_seconds', 'Time from request head to end of response', [],
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]).labels();
    this.#upstreamErrors = new HotCounter(reg, 'shadowcat_upstream_errors_total', 'Upstream failures, by kind', ['kind']);
    this.mcpMessages = new HotCounter(reg, 'shadowcat_mcp_messages_total', 'JSON-RPC messages seen, by method and direction', ['method', 'direction']);
    this.mcpErrors = new HotCounter(reg, 'shadowcat_mcp_errors_total', 'JSON-RPC error responses, by method', ['method']);
    this.mcpDuration = new HotHistogram(reg, 'shadowcat_mcp_request_duration_seconds', 'JSON-RPC request to response time, by method', ['method'],
      [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120]);
    this.mcpUnparsed = new HotCounter(reg, 'shadowcat_mcp_unparsed_total', 'Bodies the MCP inspector skipped, by reason', ['reason']);
    this.policyDecisions = new HotCounter(reg, 'shadowcat_policy_decisions_total', 'Policy rule decisions, by rule and action', ['rule', 'action']);
    this.policyReloads = new HotCounter(reg, 'shadowcat_policy_reloads_total', 'Policy file reloads, by result (ok, error)', ['result']);
    this.mcpConformance = new HotCounter(reg, 'shadowcat_mcp_conformance_total', 'Breaches of the MCP transport spec seen, by rule (GET /conformance)', ['rule']);
    this.mcpSessionsRecovered = new HotCounter(reg, 'shadowcat_mcp_sessions_recovered_total', 'MCP sessions re-established upstream after a 404 (--recover-sessions), by result', ['result']);
    this.recorderDropped = new HotCounter(reg, 'shadowcat_recorder_dropped_total', 'Messages --record could not write, by reason (queue_full: the disk fell behind; write_error)', ['reason']);
    this.recorderTapes = new HotCounter(reg, 'shadowcat_recorder_tapes_total', 'Tapes started by --record', []);
    new Gauge({
      name: 'shadowcat_recorder_queued_bytes', help: 'Tape bytes waiting for the disk (bounded by --record-queue)', registers,
      collect() { this.set(self.#recorderQueued?.() ?? 0); },
    });
    new Gauge({
      name: 'shadowcat_upstream_pool_connections', help: 'Pooled upstream connections by state (--upstream-pool): idle, active (lent or streaming), dialing',
      labelNames: ['state'] as const, registers,
      collect() {
        const c = self.#pool?.();
        if (c === undefined) return;
        this.set({ state: 'idle' }, c.idle);
        this.set({ state: 'active' }, c.active);
        this.set({ state: 'dialing' }, c.dialing);
      },
    });
    new Gauge({
      name: 'shadowcat_stdio_children', help: 'Bridged stdio servers by state: ready (--stdio-pool, waiting for a session), active (serving sessions)',
      labelNames: ['state'] as const, registers,
      collect() {
        const c = self.#children?.();
        if (c === undefined) return;
        this.set({ state: 'ready' }, c.ready);
        this.set({ state: 'active' }, c.active);
      },
    });
    this.bridgeEventsDropped = new HotCounter(reg, 'shadowcat_bridge_events_dropped_total', 'Messages for a bridged session dropped from a full --event-buffer', []);
    this.authFailures = new HotCounter(reg, 'shadowcat_auth_failures_total', 'Requests refused by the Host and Origin checks (host, origin) or for want of a valid credential (missing, invalid, expired, insufficient_scope, jwks_unavailable)', ['reason']);
    this.sessionsShed = new HotCounter(reg, 'shadowcat_sessions_shed_total', 'Times an idle keep-alive session let its exchange go (a second without a request; the next request makes one)', []);
    this.bridgeRelayed = new HotCounter(reg, 'shadowcat_bridge_relayed_requests_total', 'Requests a --workers bridge sent on to the worker holding their session', []);
    // Pre-create the label-free families' common series so /metrics always lists them.
    this.#upstreamErrors.labels('connect');
  }

  /** A session started. */
  sessionStarted(): void {
    this.#sessionsTotal.inc();
  }

  /** A session ended; its byte counts move to the closed totals. */
  sessionEnded(bytesIn: number, bytesOut: number, expired: boolean): void {
    this.#closedBytesIn += bytesIn;
    this.#closedBytesOut += bytesOut;
    if (expired) this.#sessionsExpired.inc();
  }

  /** Where shadowcat_upstream_pool_connections reads from (--upstream-pool). */
  upstreamPool(read: () => { idle: number; active: number; dialing: number }): void {
    this.#pool = read;
  }

  /** Where shadowcat_stdio_children reads from (stdio servers behind HTTP). */
  stdioChildren(read: () => { ready: number; active: number }): void {
    this.#children = read;
  }

  /** Where shadowcat_recorder_queued_bytes reads from (--record). */
  recorderQueued(read: () => number): void {
    this.#recorderQueued = read;
  }

  /** A connection was refused at admission. */
  sessionRejected(reason: string): void {
    this.#sessionsRejected.inc({ reason });
  }

  /** A request was answered with `status` after `seconds`. */
  requestDone(status: number, seconds: number): void {
    let child = this.#byStatus.get(status);
    if (child === undefined) {
      child = this.#requests.labels(String(status));
      this.#byStatus.set(status, child);
    }
    child.inc();
    if (seconds > 0) this.#duration.observe(seconds);
  }

  /** An upstream failure of `kind` (connect, timeout, reset, protocol). */
  upstreamError(kind: string): void {
    this.#upstreamErrors.labels(kind).inc();
  }

  /** Prometheus text exposition. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
