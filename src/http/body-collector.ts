// A body kept whole for a reader (the inspector, the policy hold, a resend), bounded: past
// its limit it keeps nothing and says so, so no body is buffered without a bound.

/** Bounded body collector: keeps at most `limit` bytes, remembers whether it overflowed. */
export class BodyCollector {
  parts: Buffer[] = [];
  bytes = 0;
  overflow = false;

  push(chunk: Buffer, limit: number): void {
    // Counted past the limit too: a skipped body is told with its size.
    this.bytes += chunk.length;
    if (this.overflow) return;
    if (this.bytes > limit) {
      this.overflow = true;
      this.parts = [];
      return;
    }
    // No copy: node gives every socket read its own memory, never reused, so a slice of
    // it stays valid; we only keep it until the message ends.
    this.parts.push(chunk);
  }

  /** The body so far as one buffer, kept (joined in place). */
  whole(): Buffer {
    if (this.parts.length !== 1) this.parts = [Buffer.concat(this.parts)];
    return this.parts[0]!;
  }

  take(): Buffer {
    const parts = this.parts;
    const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    this.parts = [];
    this.bytes = 0;
    return body;
  }

  reset(): void {
    this.parts = [];
    this.bytes = 0;
    this.overflow = false;
  }
}
