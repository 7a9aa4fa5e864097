// The official SDK client over Streamable HTTP with a connection pool of its own (an undici
// Agent), so its connections are its own sessions and closing it closes them.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Agent, fetch as undiciFetch } from 'undici';

/** An SDK client, its transport and its agent; not yet connected. */
export interface SdkHttpClient {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  readonly agent: Agent;
}

/** A client named `name` for `url`; call client.connect(transport) to start. */
export function sdkHttpClient(url: string, name: string, keepAliveTimeout = 10_000): SdkHttpClient {
  const agent = new Agent({ keepAliveTimeout });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch,
  });
  return { client: new Client({ name, version: '1.0.0' }), transport, agent };
}
