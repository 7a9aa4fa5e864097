// Wires a stdio MCP server behind Streamable HTTP (`forward http … -- <command>`): the
// message bridge's builder, beside createApp (docs/architecture.md "Two paths"). The registry, limits,
// metrics, admin API, policies, tapes and drain are the corridor's; the transports are the
// bridge's: node:http serving Streamable HTTP on one side, stdio children on the other (one
// per session with --multi-session, else one shared; --stdio-pool keeps some warm).

import http from 'node:http';
import type { Config } from '../config.js';
import { BadRequestError, HeadTooLargeError, HeaderTimeoutError, SessionLimitError, ShuttingDownError, type ProxyError } from '../errors.js';
import { errorResponse } from '../http/error-response.js';
import { BridgeSession } from '../bridge/bridge-session.js';
import { ChildLink, type LinkDeps } from '../bridge/child-link.js';
import { relayedHandler, streamableHandler, type BridgeHost } from '../bridge/streamable-server.js';
import { createAdminServer, localView } from '../observe/admin.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { Metrics } from '../observe/metrics.js';
import { RateLimiter } from '../policy/rate-limit.js';
import { Registry } from '../session/registry.js';
import { flatUuid, Session, type CloseReason } from '../session/session.js';
import { SessionRelay } from '../bridge/session-relay.js';
import { StdioChild } from '../upstream/stdio-child.js';
import { remoteUpstream } from '../upstream/remote-upstream.js';
import { publicUrl } from '../upstream/public-url.js';
import type { LineUpstream } from '../upstream/line-upstream.js';
import { StdioPool } from '../upstream/stdio-pool.js';
import type { App, AppAddresses, AppDeps, ShutdownReport } from './app.js';
import { createMessageLayer } from './message-layer.js';
import { Drain } from './drain.js';
import { originAdmission } from './origin-admission.js';
import { inboundAuth } from '../policy/inbound-auth.js';
import { closeServer, listenOn } from './servers.js';
import { acceptWithStableShape } from '../listener/stable-accept.js';

/** Open streams get an SSE comment this often, so a client that vanished is found. */
const HEARTBEAT_MS = 15_000;
/** TCP keep-alive probes on client sockets start after this much idleness. */
const KEEPALIVE_MS = 15_000;

/** Creates (but does not start) the bridge app for `config` (mode http with a command). */
export function createBridgeApp(config: Config, deps: AppDeps = {}): App {
  const log = deps.logger ?? silentLogger();
  const info = log.isLevelEnabled('info');
  const debug = log.isLevelEnabled('debug');
  const drain = new Drain();
  const bridged = new Map<string, BridgeSession>();
  const links = new Set<ChildLink>();
  const timers = new Set<NodeJS.Timeout>();

  const registry: Registry = new Registry({
    maxSessions: config.maxSessions,
    maxPerClient: config.maxPerClient,
    idleTimeoutMs: config.sessionTimeoutMs,
    // A session with an open stream or a request in flight is not idle, whatever its last message.
    onExpire: (session) => {
      if (bridged.get(session.id)?.busy === true) registry.touch(session);
      else session.close('expired');
    },
  });
  const metrics = new Metrics({
    liveSessions: () => registry.size,
    liveBytes: () => registry.liveBytes(),
  });
  const { policy, lint, sink, gate, recorder } = createMessageLayer(config, metrics, log, debug, deps);
  const limiter = config.rateLimit > 0 ? new RateLimiter(config.rateLimit) : null;
  // With --workers, a session is served by the worker holding its child: others relay to it.
  const relay = deps.workerSlot !== undefined && config.workers > 1 ? new SessionRelay(deps.workerSlot, log, relayedCounter(metrics)) : null;
  const remote = config.command.length === 0 && config.upstreamUrl !== null;
  const program = remote ? publicUrl(config.upstreamUrl!) : config.command[0] ?? '';
  if (recorder !== null) {
    recorder.upstream = program;
    recorder.subjectOf = (id) => registry.get(id)?.subject ?? null;
  }
  const pool = config.multiSession && config.stdioPool > 0
    ? new StdioPool(config.stdioPool, () => new StdioChild(config.command, config.maxBodyBytes, log.child({ pool: true })), log)
    : null;
  let shared: ChildLink | null = null;
  metrics.stdioChildren(() => ({ ready: pool?.ready ?? 0, active: links.size }));

  const linkDeps = (childLog: Logger): LinkDeps => ({
    sink, lint, log: childLog, initTimeoutMs: config.upstreamTimeoutMs,
    onGone: (link) => {
      links.delete(link);
      if (shared === link) shared = null;
    },
  });
  const spawnChild = (childLog: Logger): LineUpstream => {
    if (remote) return remoteUpstream(config, childLog, { onRecovery: (result) => metrics.mcpSessionsRecovered.labels(result).inc() });
    // A child's line (a message) is bounded like a request body.
    const child = new StdioChild(config.command, config.maxBodyBytes, childLog);
    if (info) childLog.info({ child: child.pid, command: program }, 'stdio server started');
    return child;
  };

  const onSessionEnd = (session: Session, reason: CloseReason, error: unknown): void => {
    registry.remove(session);
    bridged.delete(session.id);
    metrics.sessionEnded(session.bytesIn, session.bytesOut, reason === 'expired');
    if (info) {
      log.info({ sid: session.id, client: session.client, subject: session.subject ?? undefined, reason, requests: session.requests, ms: Date.now() - session.createdAt,
        err: error instanceof Error ? error.message : undefined }, 'session end');
    }
    if (recorder !== null) sink.proxySessionEnded(session.id);
    deps.onSessionClose?.(session, reason);
    drain.sessionEnded(registry);
  };

  const warnings: string[] = [];
  const admission = originAdmission(config, metrics, log, warnings);
  const auth = inboundAuth(config, metrics, log, deps.authenticate ?? null);
  const host: BridgeHost = {
    gate, sink, metrics, log,
    maxBodyBytes: config.maxBodyBytes,
    inspectLimitBytes: config.inspectLimitBytes,
    bodyTimeoutMs: config.bodyTimeoutMs,
    sessionFor: (id) => {
      const s = bridged.get(id);
      if (s !== undefined) registry.touch(s.session);
      return s;
    },
    newSession: (ip, port, who): BridgeSession | ProxyError => {
      if (drain.active) return new ShuttingDownError();
      // A caller who proved an identity counts for --max-per-client by it, not by address.
      const client = who === null ? ip : `subject:${who.subject}`;
      const verdict = registry.admit(client);
      if (verdict !== 'ok') {
        metrics.sessionRejected(verdict);
        return new SessionLimitError(verdict === 'max-per-client' ? `too many sessions from this ${who === null ? 'client' : 'caller'}` : 'session limit reached', 1);
      }
      const session = new Session(ip, port, Date.now(), onSessionEnd, relay === null ? undefined : flatUuid(relay.slot));
      session.identify(who);
      const sessionLog = log.child({ sid: session.id });
      let link: ChildLink;
      if (config.multiSession) {
        const child = pool?.take() ?? spawnChild(sessionLog);
        link = new ChildLink(child, false, linkDeps(sessionLog));
        links.add(link);
      } else {
        if (shared === null || shared.gone) {
          shared = new ChildLink(spawnChild(log), true, linkDeps(log));
          links.add(shared);
        }
        link = shared;
      }
      session.childPid = link.child.pid;
      registry.add(session, client);
      metrics.sessionStarted();
      const bs = new BridgeSession(session, link, config.eventBuffer, () => sessionLog, () => registry.touch(session),
        (n) => metrics.bridgeEventsDropped.labels().inc(n));
      bridged.set(session.id, bs);
      if (info) sessionLog.info({ client: session.client, child: link.child.pid }, 'session start');
      deps.onSessionOpen?.(session);
      return bs;
    },
    admitRequest: limiter === null ? () => 0 : (ip) => limiter.take(ip),
    relay,
    serveSse: config.serveSse,
    admitOrigin: admission.admitOrigin,
    corsHeaders: admission.corsHeaders,
    auth,
    later: (ms, run) => {
      const t = setTimeout(() => {
        timers.delete(t);
        run();
      }, ms);
      timers.add(t);
    },
  };

  let server: http.Server | null = null;
  let peerServer: http.Server | null = null;
  let peerPort: number | null = null;
  let admin: http.Server | null = null;
  let heartbeat: NodeJS.Timeout | null = null;
  let closing: Promise<ShutdownReport> | null = null;
  const view = localView(registry, metrics, () => policy?.snapshot() ?? null, () => lint.snapshot());

  const app: App = {
    config, registry, metrics, view,
    get peerPort() {
      return peerPort;
    },
    setPeers(ports, secret) {
      relay?.setPeers(ports, secret);
    },
    get draining() {
      return drain.active;
    },

    reloadPolicy(): boolean {
      const keys = auth?.reload('SIGHUP') ?? false;
      return (policy?.reload('SIGHUP') ?? false) || keys;
    },

    policy() {
      return policy?.snapshot() ?? null;
    },

    probeUpstream(): Promise<boolean> {
      // A stdio server has nothing to probe before a session starts it.
      return Promise.resolve(true);
    },

    async listen(): Promise<AppAddresses> {
      server = http.createServer({
        keepAlive: true, keepAliveInitialDelay: KEEPALIVE_MS, maxHeaderSize: config.maxHeaderBytes,
        headersTimeout: config.headerTimeoutMs, requestTimeout: 0,
      }, streamableHandler(host));
      // What node:http refuses before a request exists still gets the error table's status and body.
      server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
        if (!socket.writable) return socket.destroy();
        const refusal = err.code === 'HPE_HEADER_OVERFLOW' ? new HeadTooLargeError(`request head larger than ${config.maxHeaderBytes} bytes`)
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? new HeaderTimeoutError(`request head not received within ${config.headerTimeoutMs} ms`)
            : new BadRequestError(`malformed request: ${err.message}`);
        socket.end(errorResponse(refusal, true));
      });
      acceptWithStableShape(server);
      const port = await listenOn(server, config.port, config.host);
      if (relay !== null) {
        // The private port: requests other workers relay here for this worker's sessions.
        peerServer = http.createServer({ keepAlive: true, requestTimeout: 0 }, relayedHandler(host, relay));
        acceptWithStableShape(peerServer);
        peerPort = await listenOn(peerServer, 0, '127.0.0.1', true);
      }
      heartbeat = setInterval(() => {
        for (const s of bridged.values()) s.heartbeat();
      }, HEARTBEAT_MS);
      heartbeat.unref();
      pool?.start();
      let adminPort: number | null = null;
      if (config.adminPort !== null) {
        admin = createAdminServer({ view, token: config.adminToken, isDraining: () => drain.active, warnings });
        adminPort = await listenOn(admin, config.adminPort, config.adminHost);
      }
      auth?.watch();
      if (policy !== null) {
        policy.watch();
        log.info({ file: policy.snapshot().file ?? undefined, rules: policy.snapshot().rules.length }, 'policy loaded');
      }
      log.info({ mode: config.mode, port, host: config.host, multiSession: config.multiSession, upstream: remote ? `${config.upstreamTransport}: ${program}` : `stdio: ${program}`, serveSse: config.serveSse || undefined, stdioPool: config.stdioPool || undefined, adminPort }, 'listening');
      return { port, adminPort, upstreamUrl: null };
    },

    close(drainMs = config.shutdownTimeoutMs): Promise<ShutdownReport> {
      if (closing !== null) return closing;
      closing = (async () => {
        const deadline = Date.now() + drainMs;
        policy?.close();
        const stopAccepting = closeServer(server);
        const report = await drain.run(registry, drainMs);
        // After the drain: a request whose token is being checked may still need the key set.
        auth?.close();
        for (const t of timers) clearTimeout(t);
        timers.clear();
        if (heartbeat !== null) clearInterval(heartbeat);
        server?.closeAllConnections();
        const peersClosed = closeServer(peerServer);
        peerServer?.closeAllConnections();
        relay?.close();
        // Every child is stopped (stdin, SIGTERM, SIGKILL) within the shutdown timeout: what
        // is left when it runs out is killed.
        const stops = [...links].map((l) => l.stop());
        if (pool !== null) stops.push(pool.close());
        await Promise.race([Promise.all(stops), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())]);
        for (const l of links) l.child.kill();
        pool?.kill();
        const adminClosed = closeServer(admin);
        admin?.closeAllConnections();
        await Promise.all([stopAccepting, adminClosed, peersClosed]);
        await recorder?.close(Math.max(1000, drainMs));
        log.info(report, 'drained');
        return report;
      })();
      return closing;
    },
  };
  return app;
}

function relayedCounter(metrics: Metrics): () => void {
  const series = metrics.bridgeRelayed.labels();
  return () => series.inc();
}
