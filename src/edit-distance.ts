// The edit distance behind "did you mean" hints (a policy rule's nearest method, a replay's
// closest recorded call): Levenshtein over the first 400 characters, a hint, not a proof.

/** Edit distance of two strings, bounded in length. */
export function editDistance(a: string, b: string): number {
  const x = a.slice(0, 400);
  const y = b.slice(0, 400);
  let prev = Array.from({ length: y.length + 1 }, (_v, i) => i);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[y.length]!;
}
