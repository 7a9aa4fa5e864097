// The bridge benchmark's stdio MCP server: answers initialize, tools/list and tools/call
// `echo` at once, so what is measured is the gateway in front of it, not the server.
import { createInterface } from 'node:readline';

const out = (m) => process.stdout.write(`${JSON.stringify(m)}\n`);
createInterface({ input: process.stdin }).on('line', (line) => {
  let m;
  try {
    m = JSON.parse(line);
  } catch {
    return;
  }
  if (m.id === undefined || typeof m.method !== 'string') return;
  if (m.method === 'initialize') {
    out({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params?.protocolVersion ?? '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'bench-echo', version: '1.0.0' } } });
  } else if (m.method === 'tools/list') {
    out({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'echo', inputSchema: { type: 'object', properties: { message: { type: 'string' } } } }] } });
  } else if (m.method === 'tools/call') {
    out({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: `Echo: ${m.params?.arguments?.message ?? ''}` }] } });
  } else {
    out({ jsonrpc: '2.0', id: m.id, result: {} });
  }
});
