/**
 * SHA256withRSA (PKCS#1 v1.5), the signature Alipay (RSA2), WeChat Pay v3 and UnionPay (over a
 * digest) use, over UTF-8 text, base64-encoded. Keys are PEM text as operators paste them, or a
 * KeyObject read from a certificate store.
 *
 * Signing and verifying run on Bun's crypto thread pool (the callback forms of `crypto.sign` and
 * `crypto.verify`), not on the event loop: an RSA-2048 signature costs ~0.6 ms of CPU and was a
 * fifth of the main thread's time per payment (`bench lifecycle`'s profile), time in which no
 * other request could run.
 *
 * Each PEM is parsed into a KeyObject once and kept: parsing it again for every signature cost
 * ~12 % of each one (measured here).
 */
import { type KeyObject, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { WriteOrderedMap } from '../write-ordered-map.ts';

/** Keys kept parsed, at most: every configured channel's few keys, with room to spare. */
export const rsa_keys_parsed_max = 256;

const parsed = new WriteOrderedMap<string, KeyObject>();

function keyOf(key: string | KeyObject, parse: (pem: string) => KeyObject): KeyObject {
  if (typeof key !== 'string') return key;
  let object = parsed.get(key);
  if (!object) {
    // A rotated key replaces an old one; when full, the one parsed longest ago goes.
    parsed.set(key, (object = parse(key.trim())));
    if (parsed.size > rsa_keys_parsed_max) parsed.deleteOldest();
  }
  return object;
}

export function rsaSign(privateKey: string | KeyObject, message: string): Promise<string> {
  const key = keyOf(privateKey, createPrivateKey);
  return new Promise((resolve, reject) =>
    sign('sha256', Buffer.from(message, 'utf8'), key, (error, signature) => (error ? reject(error) : resolve(signature.toString('base64')))));
}

/** False for a wrong signature and for anything that is not a signature (or not a key) at all. */
export function rsaVerify(publicKey: string | KeyObject, message: string, signature: string): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      verify('sha256', Buffer.from(message, 'utf8'), keyOf(publicKey, createPublicKey), Buffer.from(signature, 'base64'), (error, valid) => resolve(!error && valid));
    } catch {
      resolve(false);
    }
  });
}
