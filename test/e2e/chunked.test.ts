// Chunked framing leftovers never cross the proxy as received (SPEC "forward http"): chunk
// extensions and trailer fields are dropped both ways, so no trailer carries a framing
// header (Content-Length, Transfer-Encoding) to a peer that might act on it. Raw bytes on
// both sides: what the upstream receives and what the client receives are compared exactly.

import type net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { proxyFor, startProxy, until, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/raw-client.js';
import { startNetUpstream, type TestServer } from '../helpers/upstreams.js';

const chunked = suite('chunk extensions and trailers');
let proxy: TestProxy | null = null;
let up: TestServer | null = null;

chunked.after.each(async () => {
  await proxy?.close();
  await up?.close();
});

const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n'
  + `5;ext=${'e'.repeat(2000)}\r\n{"a":\r\n`
  + '3;name=quoted\r\n1}\n\r\n'
  + '0;last\r\nContent-Length: 99\r\nTransfer-Encoding: gzip\r\nX-Checksum: abc\r\n\r\n', 'latin1');

/** A raw upstream that keeps every byte it receives and answers once a request body has ended. */
async function recordingUpstream(received: Buffer[]): Promise<TestServer> {
  return startNetUpstream((s: net.Socket) => {
    let got = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      // The proxy's version of a chunked body ends with a bare last chunk.
      if (got.includes('\r\n0\r\n\r\n')) {
        received.push(got);
        got = Buffer.alloc(0);
        s.write(RESPONSE);
      }
    });
    s.on('error', () => {});
  });
}

for (const multiSession of [false, true]) {
  const mode = multiSession ? 'multi-session' : 'single-session';
  chunked(`${mode}: extensions and trailers are dropped both ways, in one read or byte by byte`, async () => {
    const received: Buffer[] = [];
    up = await recordingUpstream(received);
    proxy = await startProxy({ mode: 'http', multiSession, upstreamUrl: new URL(`http://127.0.0.1:${up.port}/mcp`) });
    const head = 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const rest = '6;a;b=two\r\n":1,"m\r\n'
      + '6\r\n":"x"}\r\n'
      + '0\r\nContent-Length: 5\r\nX-Trailer: t\r\n\r\n';
    for (const dribble of [false, true]) {
      const c = await RawClient.connect(proxy.port);
      if (!dribble) {
        c.write(`${head}4;big=${'x'.repeat(100_000)}\r\n{"id\r\n${rest}`);
      } else {
        // Every state of the chunk reader split across reads: three bytes a write.
        c.socket.setNoDelay(true);
        c.write(head);
        const body = `4;e=1\r\n{"id\r\n${rest}`;
        for (let i = 0; i < body.length; i += 3) {
          c.write(body.slice(i, i + 3));
          await new Promise((r) => setImmediate(r));
        }
      }
      const res = await c.readResponse();
      assert.is(res.status, 200, res.raw.toString('latin1').slice(-200));
      const sent = received[received.length - 1]!.toString('latin1');
      const sentBody = sent.slice(sent.indexOf('\r\n\r\n') + 4);
      assert.is(sentBody, '4\r\n{"id\r\n6\r\n":1,"m\r\n6\r\n":"x"}\r\n0\r\n\r\n');
      assert.not.match(sent, /x{100}|Content-Length: 5|X-Trailer/);
      // The client's copy of the response: the same data, no extension, no trailer.
      const text = res.raw.toString('latin1');
      assert.ok(text.endsWith('\r\n\r\n5\r\n{"a":\r\n3\r\n1}\n\r\n0\r\n\r\n'), text.slice(-120));
      assert.not.match(text, /ext=|quoted|last|Content-Length: 99|gzip|X-Checksum/);
      assert.is(res.body.toString(), '{"a":1}\n');
      c.close();
    }
    await until(() => received.length === 2, 5000, 'both requests upstream');
  });
}

chunked('a response with a Transfer-Encoding other than chunked is a 502, never relayed', async () => {
  up = await startNetUpstream((s: net.Socket) => {
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'));
    s.on('error', () => {});
  });
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  c.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n');
  const res = await c.readResponse();
  assert.is(res.status, 502);
  assert.is(JSON.parse(res.body.toString()).error.data.reason, 'upstream_broken');
  c.close();
});

chunked('the MCP inspector reads chunked bodies as data, without their framing, however the messages are split', async () => {
  // Each message is written in two pieces: every piece is a chunk of its own on the wire.
  const sse = ['event: message\ndata: {"jsonrpc":"2.0","id":1,', '"result":{"tools":[]}}\n\n'];
  const json = ['{"jsonrpc":"2.0","id":2,', '"result":{}}'];
  const http = await import('node:http');
  up = await (await import('../helpers/upstreams.js')).startHttpUpstream((req, res) => {
    req.resume();
    req.on('end', () => {
      const parts = req.headers['x-kind'] === 'sse' ? sse : json;
      res.writeHead(200, { 'content-type': req.headers['x-kind'] === 'sse' ? 'text/event-stream' : 'application/json' });
      res.write(parts[0]);
      setImmediate(() => res.end(parts[1]));
    });
  });
  proxy = await proxyFor(up);
  for (const [kind, id, method] of [['sse', 1, 'tools/list'], ['json', 2, 'ping']] as const) {
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ port: proxy!.port, host: '127.0.0.1', method: 'POST', path: '/mcp', agent: false, headers: { 'content-type': 'application/json', 'x-kind': kind } }, (res) => {
        assert.is(res.headers['transfer-encoding'], 'chunked');
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      // The request body is chunked too, split inside the message.
      req.write(`{"jsonrpc":"2.0","id":${id},`);
      setImmediate(() => req.end(`"method":"${method}"}`));
    });
  }
  const metrics = await proxy.app.metrics.render();
  for (const line of [
    'shadowcat_mcp_messages_total{method="tools/list",direction="client_to_server"} 1',
    'shadowcat_mcp_messages_total{method="tools/list",direction="server_to_client"} 1',
    'shadowcat_mcp_messages_total{method="ping",direction="client_to_server"} 1',
    'shadowcat_mcp_messages_total{method="ping",direction="server_to_client"} 1',
  ]) assert.ok(metrics.includes(line), `${line}\n${metrics.split('\n').filter((l) => l.includes('mcp_')).join('\n')}`);
  assert.not.match(metrics, /shadowcat_mcp_unparsed_total\{reason="malformed"\} [1-9]/);
});

chunked.run();
