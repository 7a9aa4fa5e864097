// The L4 baseline: a plain Node socket pipe, no parsing, no sessions.
// Usage: node socket-pipe-target.mjs <listenPort> <upstreamPort>
import net from 'node:net';

const [port, upstreamPort] = process.argv.slice(2).map(Number);
net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true });
  client.pipe(upstream).pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
}).listen(port, '127.0.0.1');
