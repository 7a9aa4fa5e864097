// The Node proxy most people reach for: http-proxy on node:http, with a keep-alive agent.
// Usage: node http-proxy-target.mjs <listenPort> <upstreamPort>
import http from 'node:http';
import httpProxy from 'http-proxy';

const [port, upstreamPort] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${upstreamPort}`, agent });
proxy.on('error', (err, _req, res) => {
  if (!res.headersSent) res.writeHead(502);
  res.end(String(err));
});
http.createServer((req, res) => proxy.web(req, res)).listen(port, '127.0.0.1');
