// The process tree as /proc shows it: what a test checks to say no child was left behind.

import { readdirSync, readFileSync } from 'node:fs';

/** Each live pid's parent pid. */
function parents(): Map<number, number> {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  return parent;
}

/** Pids whose parent is `of` (this process by default). */
export function childPids(of: number = process.pid): number[] {
  return [...parents()].filter(([, pp]) => pp === of).map(([pid]) => pid);
}

/** Every descendant of `root`. */
export function descendants(root: number): number[] {
  const parent = parents();
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [pid, pp] of parent) {
      if (pp !== p) continue;
      out.push(pid);
      walk(pid);
    }
  };
  walk(root);
  return out;
}

/** Whether a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
