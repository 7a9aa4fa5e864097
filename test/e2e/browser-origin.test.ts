// A real browser against the Origin check (SPEC "Who may connect"): headless Chromium opens
// a page served from another origin (the name evil.test, which Chromium is told resolves to
// 127.0.0.1, as a DNS-rebinding page would) whose script calls the proxy with fetch. By
// default the browser's preflight is refused (403 origin), the script cannot reach the
// proxy and nothing reaches the upstream; with --allowed-origins <that origin> --cors the
// same page initialises and reads Mcp-Session-Id. Skipped, saying why, only where no
// browser can be installed.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chromium } from '../helpers/browser.js';
import { adminGet, startProxy } from '../helpers/proxy.js';
import { readBody, startHttpUpstream } from '../helpers/upstreams.js';

interface Report { status?: number; sid?: string | null; error?: string }

interface Page {
  /** The page's origin, as the browser sends it. */
  readonly origin: string;
  /** Opens the page in `browser`; resolves with what its script reported about calling the proxy on `proxyPort`. */
  visit(browser: string, proxyPort: number): Promise<Report>;
  close(): Promise<void>;
}

/** Serves the page on 127.0.0.1, under the name evil.test. */
async function servePage(): Promise<Page> {
  let proxyPort = 0;
  let report: ((r: Report) => void) | null = null;
  const page = http.createServer((req, res) => {
    if (req.url === '/report') {
      void readBody(req).then((b) => {
        report?.(JSON.parse(b.toString()) as Report);
        res.writeHead(204).end();
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><script>
(async () => {
  const out = {};
  try {
    const r = await fetch('http://127.0.0.1:${proxyPort}/mcp', { method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"page","version":"1"}}}' });
    out.status = r.status;
    out.sid = r.headers.get('mcp-session-id');
  } catch (e) { out.error = String(e); }
  await fetch('/report', { method: 'POST', body: JSON.stringify(out) });
})();
</script>`);
  });
  await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
  const port = (page.address() as AddressInfo).port;
  return {
    origin: `http://evil.test:${port}`,
    async visit(browser, target) {
      proxyPort = target;
      const reported = new Promise<Report>((resolve, reject) => {
        report = resolve;
        setTimeout(() => reject(new Error('the page never reported')), 60_000).unref();
      });
      const profile = mkdtempSync(join(tmpdir(), 'chromium-'));
      const child = spawn(browser, ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-features=HttpsUpgrades',
        '--host-resolver-rules=MAP evil.test 127.0.0.1', `--user-data-dir=${profile}`, `http://evil.test:${port}/`], { stdio: 'ignore', detached: true });
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      try {
        return await reported;
      } finally {
        // Chromium's helpers (zygote, renderers) share its process group and may still be
        // writing the profile when the browser itself is gone: kill the group, then retry the rm.
        try { process.kill(-child.pid!, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
        await exited;
        try {
          rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
        } catch (err) {
          console.warn(`left ${profile} behind: ${(err as Error).message}`);
        }
      }
    },
    close: async () => {
      page.closeAllConnections();
      await new Promise((r) => page.close(r));
    },
  };
}

const browserSuite = suite('a browser page from another origin');
const found = chromium();

browserSuite('refused by default (preflight 403, nothing upstream); served with --allowed-origins and --cors, Mcp-Session-Id readable', async () => {
  if (found.path === null) {
    console.log(`  skipped: ${found.why}`);
    return;
  }
  let upstreamRequests = 0;
  const upstream = await startHttpUpstream(async (req, res) => {
    upstreamRequests++;
    await readBody(req);
    res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'up-1' })
      .end('{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"up","version":"1"}}}');
  });
  const page = await servePage();
  try {
    const url = new URL(`http://127.0.0.1:${upstream.port}/mcp`);
    const closed = await startProxy({ mode: 'http', upstreamUrl: url, multiSession: true, adminPort: 0 });
    try {
      const refused = await page.visit(found.path, closed.port);
      assert.ok(refused.error !== undefined, `the page's fetch failed: ${JSON.stringify(refused)}`);
      assert.is(upstreamRequests, 0, 'nothing reached the upstream');
      assert.match(await adminGet(closed.adminPort!, '/metrics'), /^shadowcat_auth_failures_total\{reason="origin"\} [1-9]/m);
    } finally {
      await closed.close();
    }
    const open = await startProxy({ mode: 'http', upstreamUrl: url, multiSession: true, adminPort: 0, cors: true, allowedOrigins: [page.origin] });
    try {
      const served = await page.visit(found.path, open.port);
      assert.is(served.status, 200, JSON.stringify(served));
      assert.is(served.sid, 'up-1', 'Mcp-Session-Id is exposed to the page');
      assert.is(upstreamRequests, 1);
    } finally {
      await open.close();
    }
  } finally {
    await page.close();
    await upstream.close();
  }
});

browserSuite.run();
