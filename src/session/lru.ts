// mnemonist's LRUMapWithDelete, loaded on its own: the package index pulls in every
// structure (~60 ms of startup), which a sidecar binary should not pay for.

import { createRequire } from 'node:module';
import type { LRUMapWithDelete as LRUMapWithDeleteType } from 'mnemonist';

/** An LRU map with O(1) delete; iteration order is most recently used first. */
export const LRUMapWithDelete = createRequire(import.meta.url)('mnemonist/lru-map-with-delete.js') as typeof LRUMapWithDeleteType;
/** Instance type of LRUMapWithDelete. */
export type LRUMapWithDelete<K, V> = LRUMapWithDeleteType<K, V>;
