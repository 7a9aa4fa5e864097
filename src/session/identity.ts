// Who a request proved to be (--auth-keys, --auth-jwt or an embedder's hook): the subject
// names the caller in logs, /sessions, tapes, policies and per-caller limits; the claims of
// a token are kept for policy `match.claims` and never shown. The credential is never kept.

/** A caller's identity. */
export interface Identity {
  /** The key's name, the token's `sub`, or what the hook returned. */
  readonly subject: string;
  /** A token's verified claims (frozen), or null for a key or a hook. */
  readonly claims: Readonly<Record<string, unknown>> | null;
}

/** An identity without claims. */
export function named(subject: string): Identity {
  return Object.freeze({ subject, claims: null });
}
