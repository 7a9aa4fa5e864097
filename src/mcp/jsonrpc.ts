// JSON-RPC 2.0 message classification for observation: what a message is, its method,
// id and tool name. Method names become metric labels, so only known MCP methods are
// kept verbatim; anything else is counted as "other" to bound label cardinality.

/** The kind of one JSON-RPC message. */
export type MessageKind = 'request' | 'notification' | 'result' | 'error' | 'invalid';

/** What the inspector learns from one message. */
export interface MessageInfo {
  readonly kind: MessageKind;
  /** Method name for requests and notifications, as a bounded label. */
  readonly method: string;
  /** Id as a correlation key (JSON text), or null. */
  readonly id: string | null;
  /** params.name of a tools/call or prompts/get, params.uri of a resources/read. */
  readonly tool: string | null;
}

/** MCP method names kept verbatim as labels. */
export const KNOWN_METHOD_NAMES: readonly string[] = [
  'initialize', 'ping', 'tools/list', 'tools/call', 'resources/list', 'resources/read', 'resources/templates/list',
  'resources/subscribe', 'resources/unsubscribe', 'prompts/list', 'prompts/get', 'completion/complete',
  'logging/setLevel', 'sampling/createMessage', 'roots/list', 'elicitation/create',
  'tasks/get', 'tasks/result', 'tasks/list', 'tasks/cancel',
  'notifications/initialized', 'notifications/cancelled', 'notifications/progress', 'notifications/message',
  'notifications/resources/updated', 'notifications/resources/list_changed', 'notifications/tools/list_changed',
  'notifications/prompts/list_changed', 'notifications/roots/list_changed', 'notifications/tasks/status',
  'notifications/elicitation/complete',
];
const KNOWN_METHODS = new Set(KNOWN_METHOD_NAMES);

/** A method name safe to use as a metric label. */
export function methodLabel(method: unknown): string {
  return typeof method === 'string' && KNOWN_METHODS.has(method) ? method : 'other';
}

/** Classifies one parsed JSON value as a JSON-RPC message. */
export function classify(value: unknown): MessageInfo {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'invalid', method: 'invalid', id: null, tool: null };
  const m = value as Record<string, unknown>;
  const id = m.id === undefined || m.id === null ? null : JSON.stringify(m.id);
  if (typeof m.method === 'string') {
    const params = m.params as Record<string, unknown> | undefined;
    const key = m.method === 'tools/call' || m.method === 'prompts/get' ? 'name' : m.method === 'resources/read' ? 'uri' : null;
    const named = key === null || typeof params !== 'object' || params === null ? undefined : params[key];
    const tool = typeof named === 'string' ? named : null;
    return { kind: id === null ? 'notification' : 'request', method: methodLabel(m.method), id, tool };
  }
  if ('error' in m) return { kind: 'error', method: '', id, tool: null };
  if ('result' in m) return { kind: 'result', method: '', id, tool: null };
  return { kind: 'invalid', method: 'invalid', id, tool: null };
}

/** Parses a JSON-RPC body (one message or a batch); null when it is not valid JSON. */
export function parseMessages(text: string): unknown[] | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return Array.isArray(value) ? value : [value];
}
