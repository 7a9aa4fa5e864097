// A body kept whole for a reader (the inspector, the policy hold, a resend), bounded: past
// its limit it keeps nothing and says so, so no body is buffered without a bound.

const EMPTY = Buffer.alloc(0);

/** Bounded body collector: keeps at most `limit` bytes, remembers whether it overflowed. */
export class BodyCollector {
  // Most bodies come in one read: the first part is a field, and only more parts make a list.
  #first: Buffer | null = null;
  #more: Buffer[] | null = null;
  bytes = 0;
  overflow = false;

  push(chunk: Buffer, limit: number): void {
    // Counted past the limit too: a skipped body is told with its size.
    this.bytes += chunk.length;
    if (this.overflow) return;
    if (this.bytes > limit) {
      this.overflow = true;
      this.#first = null;
      this.#more = null;
      return;
    }
    // No copy: node gives every socket read its own memory, never reused, so a slice of
    // it stays valid; we only keep it until the message ends.
    if (this.#first === null) this.#first = chunk;
    else (this.#more ??= []).push(chunk);
  }

  /** The body so far as one buffer, kept (joined in place). */
  whole(): Buffer {
    const more = this.#more;
    if (more !== null) {
      more.unshift(this.#first!);
      this.#first = Buffer.concat(more);
      this.#more = null;
    }
    return this.#first ?? EMPTY;
  }

  /** The body so far as one buffer; the collector is empty afterwards. */
  take(): Buffer {
    const body = this.whole();
    this.#first = null;
    this.bytes = 0;
    return body;
  }

  reset(): void {
    this.#first = null;
    this.#more = null;
    this.bytes = 0;
    this.overflow = false;
  }
}
