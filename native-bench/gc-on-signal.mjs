// Preloaded (--import) into the idle rows' targets by bench.mjs: on SIGUSR2 the target runs
// two full collections and says "gc done" on stderr. RSS is then read with the garbage of
// opening the sessions gone and only what they hold left: where V8's own collections fell
// while sessions opened moved one run's slope ±15 %.
process.on('SIGUSR2', () => {
  globalThis.gc();
  globalThis.gc();
  process.stderr.write('gc done\n');
});
