#!/usr/bin/env node
// Parser micro-benchmark: the llhttp bindings behind shadowcat's Framer interface on a
// typical MCP request head (and the matching response), plus Node's own C++ llhttp
// binding for reference. Prints one markdown table; the fastest binding that passes the
// framer tests is what createFramer() uses.
// Usage: node native-bench/parser-bench.mjs [iterations]

import { LlhttpWasmFramer } from '../build-test/helpers/llhttp-wasm-framer.js';
import { UndiciLlhttpFramer } from '../dist/http/llhttp-undici-framer.js';

const N = Number(process.argv[2] ?? 300_000);
const body = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}';
const request = Buffer.from(
  'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: node\r\nAccept: application/json, text/event-stream\r\n' +
  'Content-Type: application/json\r\nMcp-Session-Id: 7f6c1f0e-3c44-4b4e-9d2a-2b1a6f1d9e01\r\nMcp-Protocol-Version: 2025-06-18\r\n' +
  `Accept-Encoding: gzip, deflate\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 'latin1');
const resBody = '{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"Echo: hello"}]}}';
const response = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMcp-Session-Id: 7f6c1f0e-3c44-4b4e-9d2a-2b1a6f1d9e01\r\nDate: Sat, 28 Nov 2026 00:00:00 GMT\r\nContent-Length: ${resBody.length}\r\n\r\n${resBody}`, 'latin1');

function time(fn) {
  for (let i = 0; i < 20_000; i++) fn();
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) fn();
    runs.push(Number(process.hrtime.bigint() - t) / N);
  }
  return runs.sort((a, b) => a - b)[2];
}

function framerCase(Make, input, kind) {
  const f = new Make(kind);
  return () => {
    if (f.execute(input) !== 1) throw new Error('framing failed');
    f.next();
  };
}

function nodeNativeCase(input, kind) {
  // process.binding is deprecated (DEP0111) and only here as a yardstick.
  const { HTTPParser } = process.binding('http_parser');
  const p = new HTTPParser();
  p.initialize(kind === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE, {});
  p[HTTPParser.kOnHeadersComplete] = () => 0;
  p[HTTPParser.kOnMessageComplete] = () => 0;
  p[HTTPParser.kOnBody] = () => 0;
  p[HTTPParser.kOnHeaders] = () => 0;
  p[HTTPParser.kOnExecute] = () => 0;
  return () => {
    p.execute(input);
  };
}

const rows = [];
for (const [name, kind, input] of [['request', 'request', request], ['response', 'response', response]]) {
  const undici = time(framerCase(UndiciLlhttpFramer, input, kind));
  const wrapper = time(framerCase(LlhttpWasmFramer, input, kind));
  let native = NaN;
  try {
    process.noDeprecation = true;
    native = time(nodeNativeCase(input, kind));
  } catch {
    // not available on this Node
  }
  rows.push({ name, bytes: input.length, undici, wrapper, native });
}

let md = `## llhttp bindings on a typical MCP ${request.length}-byte request / ${response.length}-byte response (ns per message, median of 5 × ${N})\n\n`;
md += '| message | undici llhttp wasm (used) | llhttp-wasm npm | Node C++ llhttp (reference) | llhttp-wasm ÷ undici |\n|---|---:|---:|---:|---:|\n';
for (const r of rows) md += `| ${r.name} | ${r.undici.toFixed(0)} | ${r.wrapper.toFixed(0)} | ${Number.isNaN(r.native) ? '–' : r.native.toFixed(0)} | ${(r.wrapper / r.undici).toFixed(1)}× |\n`;
process.stdout.write(`${md}\n`);
