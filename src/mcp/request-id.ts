// The id of the request an error answers (docs/reference.md "Errors a client can see": the request's id
// when the proxy read it, else null). Read on the error path only: a client that matches
// answers by id gets its answer at once instead of waiting for its timeout.

import { Envelope, ENVELOPE_FALLBACK, ENVELOPE_OK, readEnvelope } from './envelope.js';

const env = new Envelope();

/** The id, as JSON text, of the one JSON-RPC request in `body`; null for anything else (a batch, a notification, not JSON). */
export function requestIdOf(body: Buffer): string | null {
  const read = readEnvelope(body, 0, body.length, env);
  if (read === ENVELOPE_OK) return env.kind === 'request' ? env.id : null;
  if (read !== ENVELOPE_FALLBACK) return null;
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const m = value as Record<string, unknown>;
  if (typeof m.method !== 'string' || m.id === undefined || m.id === null) return null;
  return typeof m.id === 'string' || typeof m.id === 'number' ? JSON.stringify(m.id) : null;
}
