// Starts a whole proxy app in-process for a test, and checks it leaves nothing behind.

import http from 'node:http';
import { createApp, type App } from '../../dist/app/app.js';
import { makeConfig, type Config } from '../../dist/config.js';

/** A running in-process proxy. */
export interface TestProxy {
  readonly app: App;
  readonly port: number;
  readonly adminPort: number | null;
  close(): Promise<void>;
}

/** Starts a proxy with test-friendly defaults plus `overrides`. */
export async function startProxy(overrides: Partial<Config> & Pick<Config, 'mode'>): Promise<TestProxy> {
  const app = createApp(makeConfig(overrides));
  const addr = await app.listen();
  return {
    app,
    port: addr.port,
    adminPort: addr.adminPort,
    close: async () => {
      await app.close(0);
    },
  };
}

/** A multi-session L7 proxy in front of the test upstream `up` (what most e2e tests need), with `overrides`. */
export function proxyFor(up: { readonly url: string } | { readonly port: number }, overrides: Partial<Config> = {}): Promise<TestProxy> {
  const url = 'url' in up ? up.url : `http://127.0.0.1:${up.port}/mcp`;
  return startProxy({ mode: 'http', multiSession: true, upstreamUrl: new URL(url), ...overrides });
}

export { until } from './wait.js';

/** Open file descriptors of this process (Linux). */
export async function openFds(): Promise<number> {
  const { readdirSync } = await import('node:fs');
  return readdirSync('/proc/self/fd').length;
}

/** Active handles by type, from node's resource tracking. */
export function activeHandles(): string[] {
  return process.getActiveResourcesInfo().filter((t) => t !== 'TTYWrap' && t !== 'FSReqCallback');
}

/** GET on an admin port; resolves with the body. */
export function adminGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** shadowcat_auth_failures_total{reason} in a /metrics text (0 when absent). */
export function authFailures(metrics: string, reason: string): number {
  return Number(new RegExp(`^shadowcat_auth_failures_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
}
