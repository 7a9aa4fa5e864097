// SIGTERM/SIGINT for a whole process: the first starts a graceful stop, a second one
// forces it. A repeat of the first signal within a second is the same request delivered
// twice, not a second one: `make run` stopped through its process group gets the group's
// SIGTERM and then make's own forwarded copy of it.

/** Window in which the same signal again counts as the same request. */
const DUPLICATE_MS = 1000;

/** Calls `first` on the first shutdown signal and `second` on a later, distinct one; returns an unsubscribe function. */
export function onShutdownSignals(first: (signal: NodeJS.Signals) => void, second: (signal: NodeJS.Signals) => void): () => void {
  let firstSignal: NodeJS.Signals | null = null;
  let firstAt = 0;
  const handler = (signal: NodeJS.Signals): void => {
    if (firstSignal === null) {
      firstSignal = signal;
      firstAt = performance.now();
      first(signal);
      return;
    }
    if (signal === firstSignal && performance.now() - firstAt < DUPLICATE_MS) return;
    second(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.removeListener('SIGTERM', handler);
    process.removeListener('SIGINT', handler);
  };
}
