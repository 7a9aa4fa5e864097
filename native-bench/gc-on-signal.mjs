// Preloaded (--import) into the idle rows' targets by bench.mjs, run with
// --compact-on-every-full-gc: on SIGUSR2 the target runs two full, compacting collections
// and answers "gc done young=BYTES" on stderr, BYTES being the young generation's resident
// size. RSS less that, read so, is what the sessions hold: not the garbage opening them
// left, not holes in old-space pages, and not the young generation, which V8 sizes by
// allocation rate (it grew by 1 to 1.7 KiB "per session" from one opening to the next).
import v8 from 'node:v8';

process.on('SIGUSR2', () => {
  globalThis.gc();
  globalThis.gc();
  const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.physical_space_size ?? 0;
  process.stderr.write(`gc done young=${young}\n`);
});
