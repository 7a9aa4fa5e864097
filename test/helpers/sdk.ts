// The official SDK client over Streamable HTTP with a connection pool of its own (an undici
// Agent), so its connections are its own sessions and closing it closes them.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
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

/**
 * Every message the transport hands its client, in arrival order; call after connect. The
 * SDK dispatches notifications a microtask late but answers at once, so a progress
 * notification read in the same chunk as its result never reaches `onprogress`: tests of
 * what the proxy delivered look here instead.
 */
export function recordArrivals(transport: Transport): JSONRPCMessage[] {
  const seen: JSONRPCMessage[] = [];
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    seen.push(message);
    deliver?.(message, extra);
  };
  return seen;
}

/** The progress values that arrived before the first result whose text matches `done`. */
export function progressBefore(seen: readonly JSONRPCMessage[], done: RegExp): number[] {
  const progress: number[] = [];
  for (const message of seen) {
    if ('method' in message && message.method === 'notifications/progress') progress.push(Number(message.params?.progress));
    if ('result' in message && done.test(JSON.stringify(message.result))) return progress;
  }
  throw new Error(`no result matching ${done}`);
}
