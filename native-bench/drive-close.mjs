// Scenario (b)'s request, a fixed number of times: each on a new connection with
// `Connection: close`, `concurrency` at a time. Prints "done N bad M" (bad: not a 200).
// Usage: node drive-close.mjs <port> <requests> [concurrency=4]

import net from 'node:net';

const [port, total, concurrency = 4] = process.argv.slice(2).map(Number);
const body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}';
const request = Buffer.from(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n`
  + `Accept: application/json, text/event-stream\r\nMcp-Session-Id: bench-session\r\nConnection: close\r\n`
  + `Content-Length: ${body.length}\r\n\r\n${body}`, 'latin1');

let started = 0;
let done = 0;
let bad = 0;

function one() {
  if (started >= total) return;
  started++;
  const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
  let head = '';
  socket.on('data', (d) => {
    if (head.length < 12) head += d.toString('latin1', 0, 12);
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    if (!head.startsWith('HTTP/1.1 200')) bad++;
    if (++done === total) console.log(`done ${done} bad ${bad}`);
    else one();
  });
}

for (let i = 0; i < Math.min(concurrency, total); i++) one();
