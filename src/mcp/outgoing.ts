// What a client's message line is, as far as sending it to a remote server goes: the ids of
// the requests in it (each is owed an answer) and its methods (to spot initialize,
// initialized and what session recovery replays). Read once, with JSON.parse: this runs
// on the message bridge's remote paths only, never on the byte corridor.

/** The requests and methods of one JSON-RPC message or batch. */
export interface Outgoing {
  /** JSON texts of the ids of the requests in it. */
  readonly requestIds: string[];
  readonly methods: string[];
}

/** Reads `line`: 'not-json' when it is not JSON, null when it is not a JSON-RPC message or batch. */
export function outgoingOf(line: Buffer | string): Outgoing | null | 'not-json' {
  let value: unknown;
  try {
    value = JSON.parse(typeof line === 'string' ? line : line.toString('utf8'));
  } catch {
    return 'not-json';
  }
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) return null;
  const requestIds: string[] = [];
  const methods: string[] = [];
  for (const m of list) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return null;
    const { method, id } = m as { method?: unknown; id?: unknown };
    if (typeof method === 'string') {
      methods.push(method);
      if (id !== undefined && id !== null) requestIds.push(JSON.stringify(id));
    }
  }
  return { requestIds, methods };
}
