// The idle-session floor: a bare node:net server that answers each request with a small
// fixed HTTP response and keeps the socket, no parser and nothing per connection of its
// own. What Node itself needs to hold an idle keep-alive client (bench.mjs, idle rows).
// Usage: node idle-floor-target.mjs <listenPort>
import net from 'node:net';

const [port] = process.argv.slice(2).map(Number);
const answer = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
net.createServer({ noDelay: true }, (client) => {
  client.on('data', () => client.write(answer));
  client.on('error', () => client.destroy());
}).listen(port, '127.0.0.1');
