// Graceful shutdown of an app's sessions (docs/reference.md "Sessions, limits and timeouts"): every
// session is asked to drain, the app waits until the last one ends or the deadline passes,
// and whatever is left is closed. Shared by the corridor's app and the bridge's.

import type { Registry } from '../session/registry.js';

/** The drain of one app: started once by close(), told of every session end. */
export class Drain {
  #active = false;
  #waiter: (() => void) | null = null;

  /** True once the drain began (new sessions are refused). */
  get active(): boolean {
    return this.#active;
  }

  /** A session ended: the wait ends with the last one. */
  sessionEnded(registry: Registry): void {
    if (this.#active && registry.size === 0 && this.#waiter !== null) this.#waiter();
  }

  /** Drains every session for up to `drainMs`, then closes the rest; returns how many ended on their own and how many were cut. */
  async run(registry: Registry, drainMs: number): Promise<{ drained: number; forced: number }> {
    this.#active = true;
    const before = registry.size;
    for (const s of registry.list()) s.drain();
    if (registry.size > 0 && drainMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, drainMs);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#waiter = null;
    const forced = registry.size;
    for (const s of registry.list()) s.close('shutdown');
    registry.close();
    return { drained: before - forced, forced };
  }
}
