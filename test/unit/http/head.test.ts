import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  buildClientResponseHead, buildUpstreamRequestHead, findHeadEnd, readRequestHead, readResponseHead, RequestRewrite, upstreamTarget,
} from '../../../dist/http/head.js';
import { BadRequestError } from '../../../dist/errors.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const rw = new RequestRewrite('up:3000', '/mcp', '1.1 shadowcat');

const target = suite('upstreamTarget');
target('/ goes to --url path; other paths unchanged', () => {
  assert.is(upstreamTarget('/', '/mcp'), '/mcp');
  assert.is(upstreamTarget('/mcp', '/mcp'), '/mcp');
  assert.is(upstreamTarget('/other?x=1', '/mcp'), '/other?x=1');
  assert.is(upstreamTarget('/?x=1', '/mcp?k=v'), '/mcp?x=1');
  assert.is(upstreamTarget('http://example.test/a/b?c', '/mcp'), '/a/b?c');
  assert.is(upstreamTarget('http://example.test', '/mcp'), '/mcp');
});

const request = suite('request head rewrite');

request('drops hop-by-hop and Connection-named headers, sets Host, X-Forwarded-*, Via', () => {
  const raw = b('POST / HTTP/1.1\r\nHost: proxy:8080\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: 5\r\nX-Secret: s\r\n' +
    'TE: trailers\r\nTrailer: x\r\nProxy-Authorization: Basic x\r\nProxy-Connection: x\r\nUpgrade: h2c\r\n' +
    'Content-Length: 2\r\nX-Forwarded-For: 10.0.0.1\r\nVia: 1.0 other\r\nAccept: text/event-stream\r\nMcp-Session-Id: abc\r\n\r\n');
  const req = readRequestHead(raw);
  const out = buildUpstreamRequestHead(req, rw, '127.0.0.1').toString('latin1');
  assert.ok(out.startsWith('POST /mcp HTTP/1.1\r\n'));
  for (const gone of ['Connection:', 'Keep-Alive', 'X-Secret', 'TE:', 'Trailer', 'Proxy-Authorization', 'Proxy-Connection', 'Upgrade', '\r\nHost: proxy']) {
    assert.not.ok(out.includes(gone), `${gone} should be removed:\n${out}`);
  }
  assert.ok(out.includes('Host: up:3000\r\n'));
  assert.ok(out.includes('X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n'));
  assert.ok(out.includes('X-Forwarded-Proto: http\r\n'));
  assert.ok(out.includes('X-Forwarded-Host: proxy:8080\r\n'));
  assert.ok(out.includes('Via: 1.0 other, 1.1 shadowcat\r\n'));
  assert.ok(out.includes('Content-Length: 2\r\nX-Forwarded') || out.includes('Content-Length: 2\r\n'));
  assert.ok(out.includes('Accept: text/event-stream\r\nMcp-Session-Id: abc\r\n'));
  assert.ok(out.endsWith('\r\n\r\n'));
});

request('the lines added per client follow each request exactly, whatever was built before', () => {
  const rw2 = new RequestRewrite('up2:9', '/mcp', '1.1 sc');
  const build = (head: string, ip: string, body: Buffer | null = null): string =>
    buildUpstreamRequestHead(readRequestHead(b(head)), rw2, ip, body).toString('latin1');
  const first = build('POST /mcp HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n', '10.0.0.7', b('{}'));
  assert.is(first, 'POST /mcp HTTP/1.1\r\nContent-Length: 2\r\nHost: up2:9\r\nX-Forwarded-For: 10.0.0.7\r\nX-Forwarded-Proto: http\r\n' +
    'X-Forwarded-Host: a\r\nVia: 1.1 sc\r\n\r\n{}');
  // Same client, other Host; another client; a client that brings its own X-Forwarded-For and Via.
  assert.ok(build('GET /mcp HTTP/1.1\r\nHost: b\r\n\r\n', '10.0.0.7').includes('X-Forwarded-Host: b\r\n'));
  assert.ok(build('GET /mcp HTTP/1.1\r\nHost: b\r\n\r\n', '10.0.0.8').includes('X-Forwarded-For: 10.0.0.8\r\n'));
  const relayed = build('GET /mcp HTTP/1.1\r\nHost: b\r\nX-Forwarded-For: 1.2.3.4\r\nVia: 1.0 x\r\n\r\n', '10.0.0.7');
  assert.ok(relayed.includes('X-Forwarded-For: 1.2.3.4, 10.0.0.7\r\n') && relayed.includes('Via: 1.0 x, 1.1 sc\r\n'), relayed);
  assert.ok(build('GET /mcp HTTP/1.1\r\nHost: b\r\n\r\n', '10.0.0.7').includes('X-Forwarded-For: 10.0.0.7\r\nX-Forwarded-Proto'));
  // HTTP/1.0 request line kept as received; "/" still maps to --url's path.
  assert.ok(build('GET /x HTTP/1.0\r\n\r\n', '10.0.0.7').startsWith('GET /x HTTP/1.0\r\nHost: up2:9\r\n'));
  assert.ok(build('GET / HTTP/1.1\r\nHost: b\r\n\r\n', '10.0.0.7').startsWith('GET /mcp HTTP/1.1\r\n'));
});

request('keeps Upgrade and sends Connection: upgrade when upgrading', () => {
  const req = readRequestHead(b('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'));
  const out = buildUpstreamRequestHead(req, rw, '::1').toString('latin1');
  assert.ok(out.includes('Upgrade: websocket\r\n'));
  assert.ok(out.includes('Connection: upgrade\r\n'));
});

request('a Connection token cannot remove framing headers', () => {
  const req = readRequestHead(b('POST / HTTP/1.1\r\nHost: a\r\nConnection: content-length\r\nContent-Length: 3\r\n\r\n'));
  assert.ok(buildUpstreamRequestHead(req, rw, '1.2.3.4').toString('latin1').includes('Content-Length: 3\r\n'));
});

request('header values pass byte for byte (obs-text)', () => {
  const req = readRequestHead(b('GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xe9\r\n\r\n'));
  const out = buildUpstreamRequestHead(req, rw, '1.2.3.4');
  assert.ok(out.includes(Buffer.from('X-Name: caf\xe9\r\n', 'latin1')));
});

request('header values and targets read again are the same text, whatever was read in between', () => {
  // The value cache is direct-mapped by length and three bytes: these differ elsewhere, so
  // they share slots and only the byte compare tells them apart.
  const hosts = ['a1111:1', 'a2111:1', 'a1121:1', 'a1112:1', 'b1111:1', 'a1111:2', 'x'.repeat(96), 'x'.repeat(95) + 'y', 'x'.repeat(200)];
  const sessions = ['s-000', 's-010', 's-001', 's-100', 'S-000', ''];
  const targets = ['/mcp', '/mCp', '/m?p', '/mcp?x=1', '/mcp?x=2'];
  for (let round = 0; round < 3; round++) {
    for (const host of hosts) {
      for (const [i, sid] of sessions.entries()) {
        const path = targets[(i + round) % targets.length]!;
        const req = readRequestHead(b(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://${host}\r\nMcp-Session-Id: ${sid}\r\n\r\n`));
        assert.is(req.host, host);
        assert.is(req.origin, `http://${host}`);
        assert.is(req.mcpSessionId, sid);
        assert.is(req.target, path);
      }
    }
  }
});

request('a Connection token is read whatever its case; a list or a second field keeps every token', () => {
  const tokens = (lines: string): readonly string[] => readRequestHead(b(`GET / HTTP/1.1\r\nHost: h\r\n${lines}\r\n`)).connectionTokens;
  assert.equal([...tokens('Connection: Close\r\n')], ['close']);
  assert.ok(readRequestHead(b('GET / HTTP/1.1\r\nHost: h\r\nConnection: CLOSE\r\n\r\n')).wantsClose);
  assert.equal([...tokens('Connection: keep-alive\r\nConnection: Upgrade\r\n')], ['keep-alive', 'upgrade']);
  assert.equal([...tokens('Connection: close\r\nConnection: x-a, X-B\r\n')], ['close', 'x-a', 'x-b']);
  // The lists of one known token are shared: a later head must not see what an earlier one added.
  assert.equal([...tokens('Connection: close\r\n')], ['close']);
  assert.equal([...tokens('Connection: keep-alivf\r\n')], ['keep-alivf']);
  assert.equal([...tokens('Connection: keep_alive\r\n')], ['keep_alive']);
  const res = readResponseHead(b('HTTP/1.1 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n'));
  assert.equal([...res.connectionTokens], ['keep-alive']);
});

request('headers the proxy writes itself are dropped by name, known to the parser or not', () => {
  const own = new RequestRewrite('up:3000', '/mcp', '1.1 shadowcat', [{ name: 'X-Upstream-Key', value: 'k' }, { name: 'Accept', value: '*/*' }], ['x-api-key', 'x-dropped-name']);
  const raw = b('POST /mcp HTTP/1.1\r\nHost: h\r\nX-Upstream-Key: client\r\nAccept: text/plain\r\nX-API-Key: secret\r\nX-Dropped-Name: d\r\nX-Kept: k\r\nContent-Length: 0\r\n\r\n');
  const out = buildUpstreamRequestHead(readRequestHead(raw), own, '127.0.0.1').toString('latin1');
  for (const gone of ['X-Upstream-Key: client', 'Accept: text/plain', 'X-API-Key', 'X-Dropped-Name']) assert.not.ok(out.includes(gone), `${gone} should be removed:\n${out}`);
  assert.ok(out.includes('X-Upstream-Key: k\r\n') && out.includes('Accept: */*\r\n') && out.includes('X-Kept: k\r\n'), out);
  // The same head through the default rewrite keeps them all.
  const plain = buildUpstreamRequestHead(readRequestHead(raw), rw, '127.0.0.1').toString('latin1');
  for (const kept of ['X-Upstream-Key: client', 'Accept: text/plain', 'X-API-Key: secret', 'X-Dropped-Name: d']) assert.ok(plain.includes(kept), `${kept} should pass:\n${plain}`);
});

request('rejects two Hosts, a missing Host in 1.1 and TE in 1.0', () => {
  assert.throws(() => readRequestHead(b('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')), (e: unknown) => e instanceof BadRequestError);
  assert.throws(() => readRequestHead(b('GET / HTTP/1.1\r\nX: a\r\n\r\n')), (e: unknown) => e instanceof BadRequestError);
  assert.throws(() => readRequestHead(b('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n')), (e: unknown) => e instanceof BadRequestError);
});

request('rejects obs-fold and field names that are not tokens, whatever the parser let through', () => {
  for (const head of [
    'GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\n\tX: b\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 4\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nBad[Name]: 4\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n',
  ]) {
    assert.throws(() => readRequestHead(b(head)), (e: unknown) => e instanceof BadRequestError, JSON.stringify(head));
  }
});

request('wantsClose follows HTTP/1.0 and Connection: close', () => {
  assert.ok(readRequestHead(b('GET / HTTP/1.0\r\n\r\n')).wantsClose);
  assert.not.ok(readRequestHead(b('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')).wantsClose);
  assert.ok(readRequestHead(b('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).wantsClose);
  assert.not.ok(readRequestHead(b('GET / HTTP/1.1\r\nHost: a\r\n\r\n')).wantsClose);
});

const response = suite('response head rewrite');

response('own HTTP version, hop-by-hop out, Via and Connection: close in', () => {
  const res = readResponseHead(b('HTTP/1.0 200 Fine\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Type: text/event-stream\r\nMcp-Session-Id: s1\r\n\r\n'));
  assert.is(res.statusCode, 200);
  assert.is(res.mcpSessionId, 's1');
  const out = buildClientResponseHead(res, rw, true).toString('latin1');
  assert.is(out, 'HTTP/1.1 200 Fine\r\nContent-Type: text/event-stream\r\nMcp-Session-Id: s1\r\nVia: 1.1 shadowcat\r\nConnection: close\r\n\r\n');
});

response('a status that is not three digits from 100 is refused (never relayed as an interim answer); no reason phrase is fine', () => {
  for (const line of ['HTTP/1.1 10 Continue', 'HTTP/1.1 00 Continue', 'HTTP/1.1 1 Continue', 'HTTP/1.1 099 Low', 'HTTP/1.1 2000 OK', 'HTTP/1.1 20x OK', 'HTTP/1.1', 'HTTP/1.1 ']) {
    assert.throws(() => readResponseHead(b(`${line}\r\nContent-Length: 0\r\n\r\n`)), /malformed status line/, line);
  }
  assert.is(readResponseHead(b('HTTP/1.1 204\r\n\r\n')).statusCode, 204);
  assert.is(readResponseHead(b('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n')).statusCode, 103);
});

response('each Connection variant and an upstream Via are written exactly, in any order of calls', () => {
  const res = readResponseHead(b('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n'));
  const withVia = readResponseHead(b('HTTP/1.1 200 OK\r\nVia: 1.1 up\r\nContent-Length: 0\r\n\r\n'));
  const v = new RequestRewrite('u', '/', '1.1 v');
  const w = new RequestRewrite('u', '/', '1.1 w');
  for (let round = 0; round < 2; round++) {
    assert.is(buildClientResponseHead(res, v, false).toString('latin1'), 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nVia: 1.1 v\r\n\r\n');
    assert.is(buildClientResponseHead(res, v, true).toString('latin1'), 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nVia: 1.1 v\r\nConnection: close\r\n\r\n');
    assert.is(buildClientResponseHead(res, v, false, true).toString('latin1'),
      'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nVia: 1.1 v\r\nConnection: keep-alive\r\n\r\n');
    assert.is(buildClientResponseHead(res, w, false).toString('latin1'), 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nVia: 1.1 w\r\n\r\n');
    assert.is(buildClientResponseHead(withVia, v, true).toString('latin1'),
      'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nVia: 1.1 up, 1.1 v\r\nConnection: close\r\n\r\n');
  }
});

response('Keep-Alive timeout read from each response, whatever was read before', () => {
  const ka = (line: string): number => readResponseHead(b(`HTTP/1.1 200 OK\r\n${line}Content-Length: 0\r\n\r\n`)).keepAliveTimeoutMs;
  for (let round = 0; round < 2; round++) {
    assert.is(ka('Keep-Alive: timeout=5\r\n'), 5000);
    assert.is(ka('Keep-Alive: timeout=5\r\n'), 5000);
    assert.is(ka('Keep-Alive: max=100\r\n'), -1);
    assert.is(ka('Keep-Alive: Timeout = 75, max=3\r\n'), 75000);
    assert.is(ka(''), -1);
    assert.is(ka('Keep-Alive: max=2, timeout=1\r\n'), 1000);
  }
});

response('findHeadEnd locates CRLFCRLF', () => {
  assert.is(findHeadEnd(b('a\r\n\r\nb'), 0), 5);
  assert.is(findHeadEnd(b('a\r\n'), 0), -1);
});

target.run();
request.run();
response.run();
