// Crypto primitives the sandbox signs and verifies with. Written against node:crypto directly
// (not paycenter's adapters) so that a signing bug on our side cannot agree with itself here.
import {
  type KeyObject,
  createCipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  createSign,
  createVerify,
  generateKeyPairSync,
  randomBytes,
} from 'node:crypto';

export type KeyPair = { privateKey: string; publicKey: string };

/** RSA-2048, PKCS#8 private / SPKI public PEM — the formats both consoles hand out. */
export function generateRsaKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  // Trimmed: alipay-sdk 4.x mis-wraps PEMs with a trailing newline (see PITFALLS).
  return { privateKey: privateKey.trim(), publicKey: publicKey.trim() };
}

/** PEM keys kept parsed, at most, of each kind: a sandbox holds a few keys an app or merchant. */
const keys_parsed_max = 1024;
const parsedKeys = { private: new Map<string, KeyObject>(), public: new Map<string, KeyObject>() };

/**
 * The PEM as a KeyObject, parsed once: parsing a private key cost ~100 µs of each ~620 µs
 * signature (measured here), and the sandbox signs every answer and notify. Its own small cache,
 * not paycenter's, since the sandbox shares no code with the adapters it checks.
 */
function parsedKey(kind: 'private' | 'public', pem: string): KeyObject {
  const cache = parsedKeys[kind];
  let key = cache.get(pem);
  if (!key) {
    if (cache.size >= keys_parsed_max) cache.delete(cache.keys().next().value!);
    cache.set(pem, (key = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem)));
  }
  return key;
}

/** SHA256withRSA, base64 — Alipay RSA2, WeChat Pay v3 and UnionPay (over a digest) use the same primitive. */
export function rsaSign(text: string, privateKeyPem: string): string {
  return createSign('RSA-SHA256').update(text, 'utf8').sign(parsedKey('private', privateKeyPem), 'base64');
}

/** `publicKeyPem`: an SPKI public key or an X.509 certificate. */
export function rsaVerify(text: string, signatureB64: string, publicKeyPem: string): boolean {
  try {
    return createVerify('RSA-SHA256').update(text, 'utf8').verify(parsedKey('public', publicKeyPem), signatureB64, 'base64');
  } catch {
    return false; // malformed signature or key: just "does not verify"
  }
}

/** WeChat's notify resource: base64(ciphertext || 16-byte GCM tag). */
export function aesGcmEncrypt(plaintext: string, key: string, nonce: string, aad: string): string {
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(key, 'utf8'), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([body, cipher.getAuthTag()]).toString('base64');
}

export function sha1Hex(text: string | Uint8Array): string {
  return createHash('sha1').update(text).digest('hex');
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random alphanumeric string (nonces, APIv3 keys): crypto randomness, not the fault PRNG. */
export function randomAlnum(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALNUM[b % ALNUM.length];
  return out;
}

export function randomDigits(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += String(b % 10);
  return out;
}

/** mulberry32: tiny seeded PRNG so that fault injection replays run for run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
