// Some failures come in storms (no file descriptor left fails every accept and every
// dial at once): their log line is written at most once an interval per kind, and says
// how many were left out since the last one.

/** Per-key gate for log lines that would otherwise repeat thousands of times a second. */
export class LogThrottle {
  readonly #intervalMs: number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(intervalMs = 1000) {
    this.#intervalMs = intervalMs;
  }

  /** null: skip this line; otherwise log it, with the count of lines skipped since the last one. */
  allow(key: string): number | null {
    const now = performance.now();
    const entry = this.#last.get(key);
    if (entry === undefined) {
      this.#last.set(key, { at: now, suppressed: 0 });
      return 0;
    }
    if (now - entry.at < this.#intervalMs) {
      entry.suppressed++;
      return null;
    }
    const suppressed = entry.suppressed;
    entry.at = now;
    entry.suppressed = 0;
    return suppressed;
  }
}
