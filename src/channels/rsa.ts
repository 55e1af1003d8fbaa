/**
 * SHA256withRSA (PKCS#1 v1.5), the signature both Alipay (RSA2) and WeChat Pay v3 use, over
 * UTF-8 text, base64-encoded. Keys are PEM text as operators paste them.
 */
import { createSign, createVerify } from 'node:crypto';

export function rsaSign(privateKeyPem: string, message: string): string {
  return createSign('RSA-SHA256').update(message, 'utf8').sign(privateKeyPem.trim(), 'base64');
}

/** False for a wrong signature and for anything that is not a signature at all. */
export function rsaVerify(publicKeyPem: string, message: string, signature: string): boolean {
  try {
    return createVerify('RSA-SHA256').update(message, 'utf8').verify(publicKeyPem.trim(), signature, 'base64');
  } catch {
    return false;
  }
}
