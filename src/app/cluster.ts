// --workers N (docs/reference.md "Phase C", docs/architecture.md "Processes"): node:cluster workers, each a whole app
// (listener, registry, upstream source), share the listening socket; the primary holds no
// sessions. It owns the admin API (asking every worker and merging: /metrics summed by
// prom-client's aggregator, /sessions concatenated with each worker's pid), the signals
// (passed on, so every worker drains) and the workers' lives (one that dies is started
// again, with a backoff that grows while they keep dying). --max-sessions and
// --max-per-client are split into per-worker shares.

import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Config } from '../config.js';
import { startDemoServer, type DemoServer } from '../mcp/demo-server.js';
import { createAdminServer, type AdminView } from '../observe/admin.js';
import type { Logger } from '../observe/logger.js';
import type { App } from './app.js';
import { onShutdownSignals } from './signals.js';
import { publicUrl } from '../upstream/public-url.js';

/** What the primary may ask a worker. */
type Op = 'metrics' | 'sessions' | 'session' | 'close' | 'policy' | 'conformance' | 'reload';

interface Ask {
  readonly sc: 'ask';
  readonly id: number;
  readonly op: Op;
  readonly arg: string | null;
}

interface Answer {
  readonly sc: 'answer';
  readonly id: number;
  readonly value: unknown;
}

interface Listening {
  readonly sc: 'listening';
  readonly port: number;
  /** A bridge worker's private port for relayed requests. */
  readonly peerPort: number | null;
}

/** The primary's word to bridge workers: each slot's private port, and the secret a relayed request carries. */
interface Peers {
  readonly sc: 'peers';
  readonly ports: readonly (number | null)[];
  readonly secret: string;
}

const DEMO_URL_ENV = 'SHADOWCAT_DEMO_URL';
const SLOT_ENV = 'SHADOWCAT_WORKER_SLOT';
const ASK_TIMEOUT_MS = 3000;
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 10_000;
/** A worker that lived this long resets the backoff. */
const BACKOFF_RESET_MS = 10_000;

function isAsk(m: unknown): m is Ask {
  return typeof m === 'object' && m !== null && (m as Ask).sc === 'ask';
}

function isPeers(m: unknown): m is Peers {
  return typeof m === 'object' && m !== null && (m as Peers).sc === 'peers';
}

/** A worker's slot (0 … workers-1), from the primary. */
export function workerSlot(env: Readonly<Record<string, string | undefined>>): number {
  return Number(env[SLOT_ENV] ?? 0);
}

/** A worker's share of n: an even split, the first workers taking the remainder. */
function share(total: number, workers: number, slot: number): number {
  return Math.floor(total / workers) + (slot < total % workers ? 1 : 0);
}

/** The worker's share of the settings: no admin API (the primary's), limits split between workers, the primary's demo server. */
export function workerConfig(config: Config, env: Readonly<Record<string, string | undefined>>): Config {
  const n = config.workers;
  const demo = env[DEMO_URL_ENV];
  return Object.freeze({
    ...config,
    adminPort: null,
    maxSessions: Math.max(1, Math.floor(config.maxSessions / n)),
    maxPerClient: Math.max(1, Math.floor(config.maxPerClient / n)),
    // Every worker keeps a warm child at least: any worker may take the next initialize.
    stdioPool: config.stdioPool === 0 ? 0 : Math.max(1, share(config.stdioPool, n, workerSlot(env))),
    upstreamUrl: config.upstreamUrl ?? (demo === undefined ? null : new URL(demo)),
  });
}

/** Worker side: answers the primary from this worker's app, and says when it listens. */
export function serveWorker(app: App, port: number): void {
  process.on('message', (m: unknown) => {
    if (isPeers(m)) return app.setPeers(m.ports, m.secret);
    if (!isAsk(m)) return;
    void answer(app, m).then((value) => process.send?.({ sc: 'answer', id: m.id, value } satisfies Answer));
  });
  process.send?.({ sc: 'listening', port, peerPort: app.peerPort } satisfies Listening);
}

async function answer(app: App, m: Ask): Promise<unknown> {
  const view = app.view;
  switch (m.op) {
    case 'metrics': return app.metrics.registry.getMetricsAsJSON();
    case 'sessions': return (await view.sessions(m.arg)).map((s) => ({ ...(JSON.parse(JSON.stringify(s)) as object), worker: process.pid }));
    case 'session': {
      const s = await view.session(m.arg ?? '');
      return s === undefined ? null : { ...(JSON.parse(JSON.stringify(s)) as object), worker: process.pid };
    }
    case 'close': return view.closeSession(m.arg ?? '');
    case 'policy': return view.policy();
    case 'conformance': return view.conformance();
    case 'reload': return app.reloadPolicy();
  }
}

/** The upstream as the primary's listening line names it. */
function upstreamName(config: Config, demo: DemoServer | null): string | undefined {
  if (config.upstreamUrl !== null) return publicUrl(config.upstreamUrl);
  if (config.command.length > 0) return `stdio: ${config.command[0]!}`;
  if (demo !== null) return demo.url.href;
  return config.upstream === null ? undefined : `${config.upstream.host}:${config.upstream.port}`;
}

/** The primary: starts the workers and the admin API, keeps the workers alive, drains them on a signal. Resolves with the exit code once all have exited. */
export async function runPrimary(config: Config, log: Logger): Promise<number> {
  const n = config.workers;
  let draining = false;
  let demo: DemoServer | null = null;
  if (config.mode === 'http' && config.upstreamUrl === null && config.command.length === 0) {
    // One demo server for all: an MCP session's connections may land on different workers.
    demo = await startDemoServer(0);
    log.info({ url: demo.url.href }, 'embedded demo MCP server started');
  }
  const env = demo === null ? {} : { [DEMO_URL_ENV]: demo.url.href };
  const workers = new Map<number, Worker>();
  const started = new Map<number, number>();
  /** Worker id → slot; a worker started in place of one that died takes its slot. */
  const slots = new Map<number, number>();
  /** Bridge workers' private ports by slot (null while a slot has no listening worker). */
  const peerPorts: (number | null)[] = new Array<number | null>(n).fill(null);
  // Sent to workers over IPC, never in the environment (which their stdio children inherit).
  const secret = randomBytes(24).toString('base64url');
  const tellPeers = (): void => {
    for (const w of workers.values()) if (w.isConnected()) w.send({ sc: 'peers', ports: peerPorts, secret } satisfies Peers);
  };
  let failures = 0;
  let listeningAnnounced = false;
  /** Workers that said they listen (the group is announced once all of the first N have). */
  const listening = new Set<number>();
  let seq = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; left: number; values: unknown[] }>();

  const fork = (slot: number): void => {
    const worker = cluster.fork({ ...env, [SLOT_ENV]: String(slot) });
    slots.set(worker.id, slot);
    workers.set(worker.id, worker);
    started.set(worker.id, performance.now());
    worker.on('message', (m: unknown) => onMessage(worker, m));
    // A send to a worker that is exiting fails on its IPC channel (EPIPE) after isConnected()
    // said yes; unheard, that error would end the primary. The worker's 'exit' does the rest.
    worker.on('error', (err: NodeJS.ErrnoException) => log.debug({ worker: worker.process.pid, err: err.code ?? err.message }, 'worker channel error'));
    log.info({ worker: worker.process.pid }, 'worker started');
  };

  const onMessage = (worker: Worker, m: unknown): void => {
    if (typeof m !== 'object' || m === null) return;
    const msg = m as Answer | Listening;
    if (msg.sc === 'listening') {
      listening.add(worker.id);
      if (msg.peerPort !== null) {
        peerPorts[slots.get(worker.id) ?? 0] = msg.peerPort;
        tellPeers();
      }
      if (!listeningAnnounced && listening.size >= n) {
        listeningAnnounced = true;
        log.info({ mode: config.mode, port: msg.port, host: config.host, multiSession: config.multiSession, workers: n, adminPort, upstream: upstreamName(config, demo) }, 'listening');
      }
    } else if (msg.sc === 'answer') {
      const p = pending.get(msg.id);
      if (p === undefined) return;
      p.values.push(msg.value);
      if (--p.left === 0) {
        pending.delete(msg.id);
        p.resolve(p.values);
      }
    }
  };

  /** Asks every live worker; resolves with the answers that came within the timeout. */
  const ask = (op: Op, arg: string | null = null): Promise<unknown[]> => {
    const live = [...workers.values()].filter((w) => w.isConnected());
    if (live.length === 0) return Promise.resolve([]);
    const id = ++seq;
    return new Promise((resolve) => {
      const entry = { resolve: resolve as (v: unknown) => void, left: live.length, values: [] as unknown[] };
      pending.set(id, entry);
      const timer = setTimeout(() => {
        if (!pending.delete(id)) return;
        resolve(entry.values);
      }, ASK_TIMEOUT_MS);
      timer.unref();
      for (const w of live) w.send({ sc: 'ask', id, op, arg } satisfies Ask);
    });
  };

  const view: AdminView = {
    metrics: async () => {
      const all = (await ask('metrics')) as MetricObjectWithValues<MetricValue<string>>[][];
      const merged = AggregatorRegistry.aggregate(all);
      return { text: await merged.metrics(), contentType: merged.contentType };
    },
    sessions: async (mcp) => (await ask('sessions', mcp)).flat() as unknown[],
    session: async (id) => (await ask('session', id)).find((s) => s !== null) ?? undefined,
    closeSession: async (id) => (await ask('close', id)).some((c) => c === true),
    policy: async () => (await ask('policy')).find((p) => p !== null) ?? null,
    conformance: async () => (await ask('conformance'))[0] ?? {},
  };

  let adminPort: number | null = null;
  let admin: http.Server | null = null;
  if (config.adminPort !== null) {
    admin = createAdminServer({ view, token: config.adminToken, isDraining: () => draining, warnings: [] });
    adminPort = await new Promise<number>((resolve, reject) => {
      admin!.once('error', reject);
      admin!.listen(config.adminPort!, config.adminHost, () => resolve((admin!.address() as AddressInfo).port));
    });
    admin.on('error', (err: NodeJS.ErrnoException) => log.error({ err: err.code ?? err.message }, 'admin server error'));
  }

  /** A worker's exit code when one failed to start (2: a bad setting, as the CLI exits), else 0. */
  let startFailed = 0;
  let allGone = (): void => {};
  const allExited = new Promise<void>((resolve) => {
    allGone = resolve;
    cluster.on('exit', (worker, code, signal) => {
      workers.delete(worker.id);
      listening.delete(worker.id);
      const slot = slots.get(worker.id) ?? 0;
      slots.delete(worker.id);
      if (peerPorts[slot] !== null) {
        peerPorts[slot] = null;
        tellPeers();
      }
      const lived = performance.now() - (started.get(worker.id) ?? 0);
      started.delete(worker.id);
      if (draining) {
        log.info({ worker: worker.process.pid, code, signal: signal ?? undefined }, 'worker exited');
        if (workers.size === 0) resolve();
        return;
      }
      if (!listeningAnnounced) {
        // A worker that cannot start (a port in use, an unreadable file) will not start
        // the next time either: the group stops, as one process would.
        log.error({ worker: worker.process.pid, code, signal: signal ?? undefined }, 'a worker failed to start: stopping');
        startFailed = code === 2 ? 2 : 1;
        draining = true;
        for (const w of workers.values()) w.process.kill('SIGTERM');
        if (workers.size === 0) resolve();
        return;
      }
      failures = lived > BACKOFF_RESET_MS ? 0 : failures + 1;
      const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.max(0, failures - 1));
      log.warn({ worker: worker.process.pid, code, signal: signal ?? undefined, restartInMs: wait }, 'worker died: starting another');
      setTimeout(() => {
        if (!draining) fork(slot);
      }, wait);
    });
  });

  const onHup = (): void => void ask('reload');
  if (config.policyFile !== null || config.authKeys !== null || config.authJwt) process.on('SIGHUP', onHup);
  onShutdownSignals((signal) => {
    draining = true;
    log.info({ signal, workers: workers.size, timeoutMs: config.shutdownTimeoutMs }, 'draining');
    // The same signal: a worker that got it from the terminal too counts it once.
    for (const w of workers.values()) w.process.kill(signal);
    const force = setTimeout(() => {
      for (const w of workers.values()) w.process.kill('SIGKILL');
    }, config.shutdownTimeoutMs + 5000);
    force.unref();
    // Every worker had died and waits for its restart: nothing to drain.
    if (workers.size === 0) allGone();
  }, (signal) => {
    log.warn({ signal }, 'second signal: exiting now');
    for (const w of workers.values()) w.process.kill('SIGKILL');
    process.exit(130);
  });

  const finish = async (): Promise<void> => {
    process.removeListener('SIGHUP', onHup);
    admin?.closeAllConnections();
    await new Promise<void>((r) => (admin === null ? r() : admin.close(() => r())));
    await demo?.close();
    log.info({}, 'drained');
  };

  for (let i = 0; i < n; i++) fork(i);
  await allExited;
  await finish();
  return startFailed;
}
