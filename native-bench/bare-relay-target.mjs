// A yardstick for scenario (b), not a proxy: the least a Node process can do per client
// connection and still relay a request over a kept upstream connection. No HTTP parsing
// beyond finding the head's end and Content-Length, no sessions, no limits, no error
// handling worth the name. What shadowcat spends above it is its own; what this spends is
// Node's (net.Socket, streams) and the kernel's.
// Usage: node bare-relay-target.mjs <listenPort> <upstreamPort>

import net from 'node:net';

const [port, upstreamPort] = process.argv.slice(2).map(Number);
const idle = [];

net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
  client.on('error', () => {});
  client.once('data', (request) => {
    const upstream = idle.pop() ?? net.connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true });
    upstream.write(request.toString('latin1').replace('Connection: close', 'Connection: keep-alive'), 'latin1');
    let answer = null;
    const onData = (d) => {
      answer = answer === null ? d : Buffer.concat([answer, d]);
      const headEnd = answer.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const length = /content-length: *(\d+)/i.exec(answer.toString('latin1', 0, headEnd));
      if (answer.length < headEnd + 4 + Number(length[1])) return;
      upstream.removeListener('data', onData);
      idle.push(upstream);
      client.end(answer);
      client.on('end', () => client.destroy());
      client.resume();
    };
    upstream.on('data', onData);
  });
}).listen(port, '127.0.0.1');
