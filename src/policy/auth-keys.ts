// --auth-keys: API keys with names, read from a JSON or YAML file (`keys: [{name, key}]` or
// `{name, sha256}` for a key kept only as its SHA-256 hex digest), reloaded when the file
// changes or on SIGHUP like a policy (a file that fails keeps the keys in force). A
// presented key is hashed once and compared with every entry's digest in constant time,
// so neither a key's length nor where it differs shows in the timing.

import crypto, { createHash, timingSafeEqual } from 'node:crypto';
import { readDataFile } from '../data-file.js';
import { ConfigError } from '../errors.js';
import { watchFile } from '../file-watch.js';
import type { Logger } from '../observe/logger.js';
import { named, type Identity } from '../session/identity.js';

/** One key: its name (the subject) and the SHA-256 of the key. */
interface KeyEntry {
  readonly identity: Identity;
  readonly digest: Buffer;
}

// crypto.hash (Node 20.12+) hashes a short string without a Hash object per call: this runs on every request.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'buffer') => Buffer }).hash;
const sha256 = oneShot !== undefined ? (text: string): Buffer => oneShot('sha256', text, 'buffer') : (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
const NAME = /^[\x21-\x7e][\x20-\x7e]{0,127}$/;

/** Reads and checks a key file; throws ConfigError naming the entry at fault. */
export function loadKeyFile(file: string): readonly KeyEntry[] {
  const doc = readDataFile(file, 'auth keys');
  const list = typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError(`auth keys ${file}: expected keys: [{ name, key | sha256 }, ...] with at least one key`);
  const names = new Set<string>();
  return Object.freeze(list.map((e: unknown, i) => {
    const where = `auth keys ${file}: keys[${i}]`;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new ConfigError(`${where}: expected { name, key | sha256 }`);
    const { name, key, sha256: hex, ...rest } = e as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length > 0) throw new ConfigError(`${where}: unknown field '${extra[0]}'`);
    if (typeof name !== 'string' || !NAME.test(name)) throw new ConfigError(`${where}: name must be printable text of 1 to 128 characters`);
    if (names.has(name)) throw new ConfigError(`${where} (${name}): the name is used twice`);
    names.add(name);
    if ((key === undefined) === (hex === undefined)) throw new ConfigError(`${where} (${name}): give exactly one of key or sha256`);
    if (key !== undefined) {
      if (typeof key !== 'string' || key.length < 16 || !/^[\x21-\x7e]+$/.test(key)) throw new ConfigError(`${where} (${name}): key must be at least 16 printable characters without spaces`);
      return Object.freeze({ identity: named(name), digest: sha256(key) });
    }
    if (typeof hex !== 'string' || !/^[0-9a-fA-F]{64}$/.test(hex)) throw new ConfigError(`${where} (${name}): sha256 must be 64 hex digits`);
    return Object.freeze({ identity: named(name), digest: Buffer.from(hex, 'hex') });
  }));
}

/** The keys in force. */
export class KeyAuth {
  readonly #file: string;
  readonly #log: Logger;
  #keys: readonly KeyEntry[];
  #unwatch: (() => void) | null = null;

  /** Loads `file` (throws ConfigError on a bad one). */
  constructor(file: string, log: Logger) {
    this.#file = file;
    this.#log = log;
    this.#keys = loadKeyFile(file);
  }

  /** Keys in force. */
  get size(): number {
    return this.#keys.length;
  }

  /** The identity (the key's name) of the key `presented` is, or null. */
  verify(presented: string): Identity | null {
    const digest = sha256(presented);
    let found: Identity | null = null;
    // Every entry is compared, whatever matched, so the time says nothing about which one did.
    for (const k of this.#keys) if (timingSafeEqual(digest, k.digest) && found === null) found = k.identity;
    return found;
  }

  /** Re-reads the file; one that fails keeps the keys in force. */
  reload(why: string): boolean {
    try {
      this.#keys = loadKeyFile(this.#file);
      this.#log.info({ file: this.#file, keys: this.#keys.length, why }, 'auth keys reloaded');
      return true;
    } catch (err) {
      this.#log.error({ file: this.#file, err: (err as Error).message, why }, 'auth keys reload failed: the keys in force stay');
      return false;
    }
  }

  /** Reloads when the file changes. */
  watch(): void {
    if (this.#unwatch !== null) return;
    this.#unwatch = watchFile(this.#file, () => this.reload('file changed'),
      (err) => this.#log.warn({ file: this.#file, err: err.message }, 'cannot watch the auth keys file: reload with SIGHUP'));
  }

  /** Stops watching. */
  close(): void {
    this.#unwatch?.();
    this.#unwatch = null;
  }
}
