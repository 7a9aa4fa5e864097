// Tokens for the --auth-jwt tests, made with node:crypto alone (the proxy verifies with jose;
// the tests sign without it, so the two never share a bug): RS256 and ES256 keys, their
// public JWKs, and the broken tokens an attacker would try.

import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

/** A signing key and its public JWK. */
export interface TestKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256';
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly jwk: Record<string, unknown>;
}

const b64 = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

/** A fresh key pair. */
export function makeKey(alg: 'RS256' | 'ES256', kid: string): TestKey {
  const { privateKey, publicKey } = alg === 'RS256'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, alg, privateKey, publicKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } };
}

/** A JWK Set of the keys' public halves. */
export function jwks(...keys: TestKey[]): string {
  return JSON.stringify({ keys: keys.map((k) => k.jwk) });
}

/** A token signed by `key`; `header` adds to (or overrides) { alg, typ, kid }. */
export function signJwt(key: TestKey, payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const input = `${b64(JSON.stringify({ alg: key.alg, typ: 'JWT', kid: key.kid, ...header }))}.${b64(JSON.stringify(payload))}`;
  const sig = sign('sha256', Buffer.from(input), key.alg === 'ES256' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' } : key.privateKey);
  return `${input}.${b64(sig)}`;
}

/** The classic confusion attack: HS256 with the public key's PEM as the shared secret. */
export function hs256WithPublicKey(key: TestKey, payload: Record<string, unknown>): string {
  const input = `${b64(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: key.kid }))}.${b64(JSON.stringify(payload))}`;
  const secret = key.publicKey.export({ format: 'pem', type: 'spki' });
  return `${input}.${b64(createHmac('sha256', secret).update(input).digest())}`;
}

/** An unsigned token (alg none). */
export function unsigned(payload: Record<string, unknown>, kid: string): string {
  return `${b64(JSON.stringify({ alg: 'none', typ: 'JWT', kid }))}.${b64(JSON.stringify(payload))}.`;
}

/** `token` with its payload replaced, the signature kept. */
export function tampered(token: string, payload: Record<string, unknown>): string {
  const [h, , s] = token.split('.');
  return `${h}.${b64(JSON.stringify(payload))}.${s}`;
}
