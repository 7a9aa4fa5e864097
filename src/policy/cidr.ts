// Client address matching for rules: IPs and CIDRs (v4 and v6) compiled to bytes once,
// and the verdict per client address cached (a proxy sees few distinct clients), since
// node's BlockList.check costs about a microsecond and a half per call.

import { isIP } from 'node:net';

interface Net {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

const CACHE_LIMIT = 4096;

/** 4 or 16 bytes of an address; IPv4-mapped IPv6 as IPv4. null when it is not an IP. */
export function addressBytes(ip: string): Uint8Array | null {
  let text = ip;
  if (text.startsWith('::ffff:') && text.includes('.')) text = text.slice(7);
  const family = isIP(text);
  if (family === 4) return Uint8Array.from(text.split('.').map(Number));
  if (family !== 6) return null;
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  let tail: number[] = [];
  // An embedded IPv4 tail (::1.2.3.4) is two groups.
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const v4 = text.slice(lastColon + 1).split('.').map(Number);
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    text = `${text.slice(0, lastColon + 1)}0`;
    text = text.endsWith('::0') ? text : text;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  let groups: number[];
  if (rest === undefined) groups = parse(head);
  else {
    const a = parse(head);
    const b = parse(rest);
    groups = [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
  }
  if (tail.length > 0) groups.splice(6, 2, ...tail);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** Matches client addresses against a list of IPs and CIDRs. */
export class CidrList {
  readonly #nets: Net[] = [];
  readonly #cache = new Map<string, boolean>();

  /** Adds `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or `v6/n`; returns an error text or null. */
  add(text: string): string | null {
    const [addr, bits, extra] = text.split('/');
    const bytes = addressBytes(addr ?? '');
    if (bytes === null || extra !== undefined || isIP(addr ?? '') === 0) return `'${text}' is not an IP or CIDR`;
    const max = bytes.length * 8;
    let prefix = max;
    if (bits !== undefined) {
      if (!/^\d{1,3}$/.test(bits) || Number(bits) > (isIP(addr!) === 6 ? 128 : 32)) return `'${text}' has a bad prefix length`;
      // An IPv4-mapped v6 network (::ffff:a.b.c.d/n) keeps its v4 part's bits.
      prefix = isIP(addr!) === 6 && bytes.length === 4 ? Math.max(0, Number(bits) - 96) : Number(bits);
    }
    this.#nets.push({ bytes, prefix });
    return null;
  }

  /** True when `ip` is in one of the networks. */
  has(ip: string): boolean {
    let hit = this.#cache.get(ip);
    if (hit === undefined) {
      hit = this.#compute(ip);
      if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
      this.#cache.set(ip, hit);
    }
    return hit;
  }

  #compute(ip: string): boolean {
    const bytes = addressBytes(ip);
    if (bytes === null) return false;
    return this.#nets.some((n) => n.bytes.length === bytes.length && inNet(bytes, n));
  }
}

function inNet(bytes: Uint8Array, net: Net): boolean {
  let bits = net.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (net.bytes[i]! & mask)) return false;
  }
  return true;
}
