// Watching a settings file (--policy, --auth-keys) for edits: its folder is watched, since
// editors replace files by rename, and a burst of events becomes one reload. Below every
// layer, like data-file.ts.

import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

/** Events closer than this are one edit. */
const DEBOUNCE_MS = 100;

/** Calls `changed` after each edit of `file`; `trouble` when it cannot be watched. Returns a stop function. */
export function watchFile(file: string, changed: () => void, trouble: (err: Error) => void): () => void {
  const name = basename(file);
  let debounce: NodeJS.Timeout | null = null;
  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, which) => {
      if (which !== null && which !== name) return;
      if (debounce !== null) clearTimeout(debounce);
      debounce = setTimeout(() => {
        debounce = null;
        changed();
      }, DEBOUNCE_MS);
    });
    watcher.on('error', trouble);
  } catch (err) {
    trouble(err as Error);
  }
  return () => {
    watcher?.close();
    watcher = null;
    if (debounce !== null) clearTimeout(debounce);
    debounce = null;
  };
}
