// --auth-jwt's first verification: sequential requests on one keep-alive connection, one token
// reused (the cache) against a fresh token each time (jose's signature check). Usage, after
// make build: node native-bench/jwt-fresh-tokens.mjs

import { generateKeyPairSync, sign } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const JWKS = join(tmpdir(), `shadowcat-bench-jwks-${process.pid}.json`);
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
writeFileSync(JWKS, JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k', alg: 'RS256' }] }));
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
const tok = (i) => { const now = Math.floor(Date.now()/1000); const input = `${b64({ alg: 'RS256', kid: 'k' })}.${b64({ iss: 'i', aud: 'a', sub: 's', exp: now + 3600, jti: i })}`; return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`; };
const up = http.createServer((q, r) => { q.resume(); q.on('end', () => r.end('{"jsonrpc":"2.0","id":1,"result":{}}')); }).listen(0, '127.0.0.1');
await new Promise((r) => up.once('listening', r));
const p = spawn(process.execPath, ['dist/cli.js', 'forward', 'http', '--port', '0', '--url', `http://127.0.0.1:${up.address().port}/mcp`, '--multi-session', '--auth-jwt', '--auth-jwks', JWKS, '--auth-issuer', 'i', '--auth-audience', 'a'], { stdio: ['ignore', 'inherit', 'pipe'] });
const port = await new Promise((r) => p.stderr.on('data', (d) => { const m = /"port":(\d+)/.exec(d.toString()); if (m) r(Number(m[1])); }));
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const one = (t) => new Promise((res, rej) => { const q = http.request({ port, host: '127.0.0.1', path: '/mcp', method: 'POST', agent, headers: { host: `127.0.0.1:${port}`, authorization: `Bearer ${t}`, 'content-type': 'application/json' } }, (r) => { r.resume(); r.on('end', () => res(r.statusCode)); }); q.on('error', rej); q.end('{"jsonrpc":"2.0","id":1,"method":"ping"}'); });
const tokens = Array.from({ length: 3000 }, (_, i) => tok(i));
const same = tokens[0];
for (let i = 0; i < 500; i++) { await one(same); await one(tokens[2000 + (i % 1000)]); }
const t0 = performance.now(); for (let i = 0; i < 2000; i++) await one(same); const t1 = performance.now();
for (let i = 0; i < 2000; i++) if (await one(tokens[i]) !== 200) throw new Error('refused');
const t2 = performance.now();
console.log(`same token: ${((t1 - t0) / 2000 * 1000).toFixed(1)} µs/request; a fresh token each: ${((t2 - t1) / 2000 * 1000).toFixed(1)} µs/request`);
p.kill(); up.close(); agent.destroy(); rmSync(JWKS, { force: true });
