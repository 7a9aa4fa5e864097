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

const SUBJECT = /^[\x21-\x7e][\x20-\x7e]{0,255}$/;

/** True for a subject that may name a caller: printable text of 1 to 256 characters (it goes into logs, /sessions, tapes and limit keys). */
export function isSubject(text: unknown): text is string {
  return typeof text === 'string' && SUBJECT.test(text);
}

/** An identity without claims. */
export function named(subject: string): Identity {
  return Object.freeze({ subject, claims: null });
}
