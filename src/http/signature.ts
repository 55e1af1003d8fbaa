/**
 * PAYC-HMAC-SHA256 request signatures (API.md "Merchant authentication") and the
 * Paycenter-Signature of notifications. Pure functions; the middleware adds the lookups.
 */
import { createHmac } from 'node:crypto';

export const auth_scheme = 'PAYC-HMAC-SHA256';
export const timestamp_window_s = 300;
export const nonce_length_max = 64;

export type AuthorizationParts = { merchantId: string; timestamp: string; nonce: string; signature: string };

const partPattern = /^\s*([a-z_]+)="([^"]*)"\s*$/;

/** Parses `PAYC-HMAC-SHA256 merchant_id="…",timestamp="…",nonce="…",signature="…"`; null when malformed. */
export function parseAuthorization(header: string | undefined): AuthorizationParts | null {
  if (!header?.startsWith(`${auth_scheme} `)) return null;
  const fields = new Map<string, string>();
  for (const part of header.slice(auth_scheme.length + 1).split(',')) {
    const match = partPattern.exec(part);
    if (!match || fields.has(match[1]!)) return null;
    fields.set(match[1]!, match[2]!);
  }
  const [merchantId, timestamp, nonce, signature] = ['merchant_id', 'timestamp', 'nonce', 'signature'].map((k) => fields.get(k));
  if (!merchantId || !timestamp || !nonce || !signature || fields.size !== 4) return null;
  if (!/^[0-9]{1,12}$/.test(timestamp) || nonce.length > nonce_length_max) return null;
  return { merchantId, timestamp, nonce, signature };
}

/** The signature over the request as sent; the body is its raw bytes (UTF-8 checked later). */
export function requestSignature(secret: string, method: string, pathAndQuery: string, timestamp: string, nonce: string, body: string | Uint8Array): string {
  return createHmac('sha256', secret)
    .update(`${method.toUpperCase()}\n${pathAndQuery}\n${timestamp}\n${nonce}\n`, 'utf8')
    .update(body)
    .update('\n', 'utf8')
    .digest('base64');
}

/** The text requestSignature signs, for explaining a mismatch (the body decoded as UTF-8, replacement characters where it is not). */
export function stringToSign(method: string, pathAndQuery: string, timestamp: string, nonce: string, body: Uint8Array): string {
  return `${method.toUpperCase()}\n${pathAndQuery}\n${timestamp}\n${nonce}\n${new TextDecoder().decode(body)}\n`;
}

export function withinWindow(timestamp: string, nowMs: number): boolean {
  return Math.abs(Number(timestamp) - Math.floor(nowMs / 1000)) <= timestamp_window_s;
}

/** `Paycenter-Signature: t=…,v1=<hex HMAC_SHA256(secret, t + "." + body)>` on notifications. */
export function notificationSignature(secret: string, timestampS: number, body: string): string {
  const v1 = createHmac('sha256', secret).update(`${timestampS}.${body}`, 'utf8').digest('hex');
  return `t=${timestampS},v1=${v1}`;
}
