// A headless Chromium from Debian's packages for the tests where browsers matter,
// installed on first use when this machine can (root or sudo); null when it cannot.

import { execFileSync, spawnSync } from 'node:child_process';

/** The chromium binary, installing it when missing; null (with why) when none can be had. */
export function chromium(): { path: string } | { path: null; why: string } {
  const found = (): string | null => {
    const r = spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  const have = found();
  if (have !== null) return { path: have };
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  try {
    const run = (args: string[]): void => void execFileSync(sudo.length > 0 ? sudo[0]! : args[0]!, sudo.length > 0 ? [...sudo.slice(1), ...args] : args.slice(1), {
      stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000,
    });
    run(['apt-get', 'update', '-qq']);
    run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'chromium']);
  } catch (err) {
    return { path: null, why: `chromium is not installed and could not be installed from Debian's packages (${(err as Error).message.split('\n')[0]})` };
  }
  const now = found();
  return now === null ? { path: null, why: 'chromium is still missing after apt-get install' } : { path: now };
}
