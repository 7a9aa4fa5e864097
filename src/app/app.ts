// Wires one proxy process: listener + registry + upstream source + observers + admin.
// The app owns every server, timer and socket it starts; close() releases all of them,
// after draining in-flight work for up to the shutdown timeout.

import type http from 'node:http';
import type net from 'node:net';
import type { Config } from '../config.js';
import { SessionLimitError, ShuttingDownError, type ProxyError } from '../errors.js';
import { errorResponse } from '../http/error-response.js';
import { RequestRewrite } from '../http/head.js';
import { createAcceptLoop } from '../listener/accept-loop.js';
import { startDemoServer, type DemoServer } from '../mcp/demo-server.js';
import { handshakePost } from '../upstream/handshake-post.js';
import { SessionRecovery } from '../mcp/session-recovery.js';
import { McpInspector } from '../mcp/inspector.js';
import type { PolicySnapshot } from '../policy/policy.js';
import { createMessageLayer, type MessageExtras } from './message-layer.js';
import { createAdminServer, localView, type AdminView } from '../observe/admin.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { Metrics } from '../observe/metrics.js';
import type { ExchangeContext } from '../proxy/exchange-context.js';
import { PartsPool } from '../proxy/exchange-parts.js';
import { HttpExchange } from '../proxy/http-exchange.js';
import { endAndLinger } from '../proxy/linger.js';
import { TcpPipe } from '../proxy/tcp-pipe.js';
import { RateLimiter } from '../policy/rate-limit.js';
import { Registry } from '../session/registry.js';
import { Session, type CloseReason } from '../session/session.js';
import { dial, type UpstreamTarget } from '../upstream/connect.js';
import { OwnUpstream, SharedLink, type UpstreamSource } from '../upstream/upstream-source.js';
import { UpstreamTls } from '../upstream/upstream-tls.js';
import { UpstreamPool } from '../upstream/upstream-pool.js';
import { LogThrottle } from '../observe/log-throttle.js';
import { logUpstreamConnected, logUpstreamError, SessionObserver } from './observer.js';
import { publicUrl } from '../upstream/public-url.js';
import { createBridgeApp } from './bridge-app.js';
import { originAdmission } from './origin-admission.js';
import type { Identity } from '../session/identity.js';
import { CLIENT_CREDENTIAL_HEADERS, inboundAuth, type AuthHook } from '../policy/inbound-auth.js';
import { Drain } from './drain.js';
import { closeServer, listenOn } from './servers.js';

/** Outcome of a shutdown: sessions that finished on their own and those cut off. */
export interface ShutdownReport {
  readonly drained: number;
  readonly forced: number;
}

/** Addresses an app listens on once started. */
export interface AppAddresses {
  readonly port: number;
  readonly adminPort: number | null;
  /** The upstream URL in use (the demo server's when --url was not given). */
  readonly upstreamUrl: URL | null;
}

/** A proxy process's lifecycle. */
export interface App {
  readonly config: Config;
  readonly registry: Registry;
  readonly metrics: Metrics;
  /** Starts the demo upstream (if needed), the listener and the admin API. */
  listen(): Promise<AppAddresses>;
  /** Stops accepting, drains for up to `drainMs` (default --shutdown-timeout), then closes everything. */
  close(drainMs?: number): Promise<ShutdownReport>;
  /** True once close() has begun. */
  readonly draining: boolean;
  /** Re-reads the --policy file (SIGHUP); false when there is none or it failed (the old rules stay). */
  reloadPolicy(): boolean;
  /** After listen(): dials the upstream once and logs one warning if it cannot be reached (a start never fails for it); resolves with whether it answered. */
  probeUpstream(): Promise<boolean>;
  /** The rules in force, or null without --policy. */
  policy(): PolicySnapshot | null;
  /** What the admin API shows of this process (a --workers primary asks each worker's). */
  readonly view: AdminView;
  /** After listen(), in a --workers bridge: where other workers relay requests for this one's sessions. */
  readonly peerPort: number | null;
  /** A --workers bridge: the other workers' private ports by slot, and the run's relay secret (from the primary). */
  setPeers(ports: readonly (number | null)[], secret: string): void;
}

/** Optional collaborators: a logger (silent by default), and an embedder's hooks. */
export interface AppDeps extends MessageExtras {
  readonly logger?: Logger;
  onSessionOpen?(session: Session): void;
  onSessionClose?(session: Session, reason: CloseReason): void;
  /** An embedder's authentication hook (custom schemes): a subject, or null to refuse. */
  readonly authenticate?: AuthHook;
  /** In a --workers worker: its slot (0 … workers-1), kept by the worker started in its place. */
  readonly workerSlot?: number;
}

/** Creates (but does not start) a proxy app for `config`. */
export function createApp(config: Config, deps: AppDeps = {}): App {
  // A stdio server, a remote server spoken to message by message (sse, auto), or old SSE
  // clients in front: the message bridge, a path of its own (docs/architecture.md "Two paths").
  if (config.mode === 'http' && (config.command.length > 0 || config.upstreamTransport !== 'streamable' || config.serveSse)) return createBridgeApp(config, deps);
  const log = deps.logger ?? silentLogger();
  const drain = new Drain();

  const registry: Registry = new Registry({
    maxSessions: config.maxSessions,
    maxPerClient: config.maxPerClient,
    idleTimeoutMs: config.sessionTimeoutMs,
    onExpire: (session) => session.close('expired'),
  });
  const metrics = new Metrics({
    liveSessions: () => registry.size,
    liveBytes: () => registry.liveBytes(),
  });
  const limiter = config.rateLimit > 0 ? new RateLimiter(config.rateLimit) : null;
  const admitRequest = limiter === null ? () => 0 : (ip: string) => limiter.take(ip);
  // A caller who proved an identity counts for --max-per-client by it, not by address.
  const identify = (session: Session, who: Identity): ProxyError | null => {
    // The same caller again on its connection (every request after the first): nothing to count.
    if (session.subject !== who.subject && registry.countAs(session, who.subject) !== 'ok') {
      metrics.sessionRejected('max-per-client');
      return new SessionLimitError('too many sessions for this caller', 1);
    }
    session.identify(who);
    return null;
  };
  const debug = log.isLevelEnabled('debug');
  // The level is fixed at start: the per-session lines' fields are not even built below it.
  const info = log.isLevelEnabled('info');
  // A bad policy file throws ConfigError here, before anything is started.
  const { policy, lint, sink, gate, recorder } = createMessageLayer(config, metrics, log, debug, deps);
  if (recorder !== null) recorder.subjectOf = (id) => registry.get(id)?.subject ?? null;
  const inspect = config.inspectLimitBytes > 0;

  let demo: DemoServer | null = null;
  let listener: net.Server | null = null;
  let admin: http.Server | null = null;
  let shared: SharedLink | null = null;
  let pool: UpstreamPool | null = null;
  let target: UpstreamTarget | null = null;
  let upstreamName = '';
  let probe: net.Socket | null = null;
  let rewrite: RequestRewrite | null = null;
  let exchangeContext: ExchangeContext | null = null;
  let upstreamUrl: URL | null = config.upstreamUrl;
  let closing: Promise<ShutdownReport> | null = null;

  const touch = (session: Session): void => registry.touch(session);
  /** Said at start and in /healthz: settings that weaken the proxy's guarantees. */
  const warnings: string[] = [];

  const makeTarget = (host: string, port: number, secure: boolean): UpstreamTarget => {
    let tlsSetup: UpstreamTls | null = null;
    if (secure) {
      if (config.upstreamInsecure) {
        warnings.push('upstream TLS certificates are not verified (--upstream-insecure)');
        log.warn({ upstream: `${host}:${port}` }, 'upstream TLS certificates are not verified (--upstream-insecure)');
      }
      tlsSetup = new UpstreamTls(host, config.upstreamCa, !config.upstreamInsecure);
    }
    return Object.freeze({ host, port, connectTimeoutMs: config.connectTimeoutMs, tls: tlsSetup });
  };
  const throttle = new LogThrottle();
  const shedTotal = metrics.sessionsShed.labels();
  const admission = originAdmission(config, metrics, log, warnings);
  const auth = config.mode === 'http' ? inboundAuth(config, metrics, log, deps.authenticate ?? null) : null;

  const onSessionEnd = (session: Session, reason: CloseReason, error: unknown): void => {
    registry.remove(session);
    metrics.sessionEnded(session.bytesIn, session.bytesOut, reason === 'expired');
    if (info) {
      log.info({
        sid: session.id, client: session.client, subject: session.subject ?? undefined, reason, requests: session.requests,
        bytesIn: session.bytesIn, bytesOut: session.bytesOut, ms: Date.now() - session.createdAt,
        err: error instanceof Error ? error.message : undefined,
      }, 'session end');
    }
    if (recorder !== null) sink.proxySessionEnded(session.id);
    deps.onSessionClose?.(session, reason);
    drain.sessionEnded(registry);
  };

  const startSession = (ip: string, port: number): Session => {
    const session = new Session(ip, port, Date.now(), onSessionEnd);
    registry.add(session);
    metrics.sessionStarted();
    if (info) log.info({ sid: session.id, client: session.client }, 'session start');
    deps.onSessionOpen?.(session);
    return session;
  };

  /** A session's exchange, with its observer, inspector and upstream source; `woken`: its connection shed the last one while idle. */
  const openExchange = (session: Session, socket: net.Socket, woken: boolean): HttpExchange => {
    let child: Logger | null = null;
    const sessionLog = (): Logger => (child ??= log.child({ sid: session.id }));
    const inspector = inspect ? new McpInspector(sink, sessionLog, session.id, session.clientIp) : null;
    const observer = new SessionObserver(session, metrics, sessionLog, debug, registry, inspector, throttle, lint);
    // Multi-session: the session's own upstream source, closed with the exchange.
    const source: UpstreamSource = shared ?? pool?.forSession() ?? new OwnUpstream(target!);
    const exchange = new HttpExchange(exchangeContext!, session, socket, source, observer, shared === null, woken);
    session.own(exchange);
    return exchange;
  };

  const acceptHttp = (socket: net.Socket, ip: string, port: number): void => {
    openExchange(startSession(ip, port), socket, false);
  };

  const acceptTcp = (socket: net.Socket, ip: string, port: number): void => {
    const session = startSession(ip, port);
    const pipe = new TcpPipe(session, socket, target!, touch, (kind, err) => {
      metrics.upstreamError(kind);
      logUpstreamError(log.child({ sid: session.id }), throttle, kind, err);
    }, debug ? (upstream) => logUpstreamConnected(log.child({ sid: session.id }), upstream) : null);
    session.own(pipe);
  };

  const view = localView(registry, metrics, () => policy?.snapshot() ?? null, () => lint.snapshot());
  const app: App = {
    config,
    registry,
    metrics,
    view,
    // The byte corridor holds no state a worker must keep: any worker serves any session.
    peerPort: null,
    setPeers() {},
    get draining() {
      return drain.active;
    },

    probeUpstream(): Promise<boolean> {
      const to = target;
      if (to === null || demo !== null || closing !== null) return Promise.resolve(true);
      return new Promise((resolve) => {
        probe = dial(to, (err, socket) => {
          probe = null;
          if (err === null) {
            socket!.destroy();
            log.debug({ upstream: upstreamName }, 'upstream reachable');
            return resolve(true);
          }
          // A warning, never a refusal: the upstream may well start after the proxy.
          if (closing === null) log.warn({ upstream: upstreamName, err: err.message }, 'upstream not reachable at start: requests get 502 until it is');
          resolve(false);
        });
        probe.unref();
      });
    },

    reloadPolicy(): boolean {
      const keys = auth?.reload('SIGHUP') ?? false;
      return (policy?.reload('SIGHUP') ?? false) || keys;
    },

    policy(): PolicySnapshot | null {
      return policy?.snapshot() ?? null;
    },

    async listen(): Promise<AppAddresses> {
      if (config.mode === 'stdio') throw new Error('forward stdio has no listener: use runStdio (app/stdio.ts)');
      if (config.mode === 'http') {
        if (upstreamUrl === null) {
          demo = await startDemoServer(0);
          upstreamUrl = demo.url;
          log.info({ url: demo.url.href }, 'embedded demo MCP server started');
        }
        const url = upstreamUrl;
        const secure = url.protocol === 'https:';
        target = makeTarget(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port || (secure ? 443 : 80)), secure);
        rewrite = new RequestRewrite(url.host, (url.pathname || '/') + url.search, '1.1 shadowcat', config.upstreamHeaders,
          auth !== null && !config.forwardClientAuth ? CLIENT_CREDENTIAL_HEADERS : []);
        if (!config.multiSession) shared = new SharedLink(target);
        else if (config.upstreamPool > 0) {
          const p = new UpstreamPool(target, config.upstreamPool);
          pool = p;
          metrics.upstreamPool(() => p.counts());
        }
        const recovery = config.recoverSessions
          ? new SessionRecovery(handshakePost({ url, headers: config.upstreamHeaders, ca: config.upstreamCa, verify: !config.upstreamInsecure, timeoutMs: config.upstreamTimeoutMs }), metrics)
          : null;
        exchangeContext = Object.freeze({ config, rewrite, touch, isDraining: () => drain.active, admitRequest,
          admitOrigin: admission.admitOrigin, corsLines: admission.corsLines, auth, identify, gate, recovery, clocks: HttpExchange.clocks(config), parts: new PartsPool(config.maxHeaderBytes, recovery, config.inspectLimitBytes),
          wake: (session: Session, socket: net.Socket) => openExchange(session, socket, true), shed: () => shedTotal.inc() });
      } else {
        target = makeTarget(config.upstream!.host, config.upstream!.port, config.upstreamTls);
      }
      upstreamName = upstreamUrl === null ? `${target.host}:${target.port}` : publicUrl(upstreamUrl);
      if (recorder !== null && upstreamUrl !== null) {
        recorder.upstream = upstreamName;
        log.info({ dir: config.recordDir }, 'recording tapes');
      }
      const accept = config.mode === 'http' ? acceptHttp : acceptTcp;
      listener = createAcceptLoop({
        admit: (ip) => {
          if (drain.active) return 'draining';
          const verdict = registry.admit(ip);
          return verdict === 'ok' ? null : verdict;
        },
        refuse: (socket, reason) => {
          metrics.sessionRejected(reason);
          log.warn({ client: `${socket.remoteAddress}:${socket.remotePort}`, reason }, 'connection refused');
          if (config.mode === 'tcp') {
            socket.destroy();
            return;
          }
          const err = reason === 'draining' ? new ShuttingDownError()
            : new SessionLimitError(reason === 'max-per-client' ? 'too many sessions from this client' : 'session limit reached', 1);
          endAndLinger(socket, errorResponse(err, true), 1000);
        },
        accept,
      });
      const port = await listenOn(listener, config.port, config.host);
      // After listen, accept errors (EMFILE, ENFILE) must be logged, never thrown.
      // Accept errors come in storms when they come (EMFILE itself libuv handles out of our
      // sight, resetting what it cannot accept): one line a second, not one per connection.
      listener.on('error', (err: NodeJS.ErrnoException) => {
        const suppressed = throttle.allow('accept');
        if (suppressed !== null) log.error({ err: err.code ?? err.message, ...(suppressed > 0 ? { suppressed } : {}) }, 'accept failed');
      });
      let adminPort: number | null = null;
      if (config.adminPort !== null) {
        admin = createAdminServer({ view, token: config.adminToken, isDraining: () => drain.active, warnings });
        adminPort = await listenOn(admin, config.adminPort, config.adminHost);
        admin.on('error', (err: NodeJS.ErrnoException) => log.error({ err: err.code ?? err.message }, 'admin server error'));
      }
      auth?.watch();
      if (policy !== null) {
        policy.watch();
        log.info({ file: policy.snapshot().file ?? undefined, rules: policy.snapshot().rules.length }, 'policy loaded');
      }
      log.info({ mode: config.mode, port, host: config.host, multiSession: config.multiSession, upstream: upstreamName, adminPort }, 'listening');
      return { port, adminPort, upstreamUrl };
    },

    close(drainMs = config.shutdownTimeoutMs): Promise<ShutdownReport> {
      if (closing !== null) return closing;
      closing = (async () => {
        policy?.close();
        const stopAccepting = closeServer(listener);
        const report = await drain.run(registry, drainMs);
        // After the drain: a request whose token is being checked may still need the key set.
        auth?.close();
        shared?.close();
        pool?.close();
        exchangeContext?.clocks.head.close();
        exchangeContext?.clocks.response.close();
        exchangeContext?.clocks.idle.close();
        const adminClosed = closeServer(admin);
        admin?.closeAllConnections();
        probe?.destroy();
        await Promise.all([stopAccepting, adminClosed, demo?.close()]);
        // Sessions are closed, so every tape has its last message: flush them (bounded wait).
        await recorder?.close(Math.max(1000, drainMs));
        log.info(report, 'drained');
        return report;
      })();
      return closing;
    },
  };
  return app;
}
