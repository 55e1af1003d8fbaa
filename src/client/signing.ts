/**
 * PAYC-HMAC-SHA256 request signing and Paycenter-Signature verification, for merchants.
 * Only `node:crypto`, which Bun and Node 20+ both provide: the client has no dependencies.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NotificationEvent } from './types.ts';

export const auth_scheme = 'PAYC-HMAC-SHA256';

export type SignedRequest = { method: string; pathAndQuery: string; timestamp: string; nonce: string; body: string };

/** The exact text that is signed (API.md "Merchant authentication"): five lines, each ended by "\n". */
export const stringToSign = (r: SignedRequest): string =>
  `${r.method.toUpperCase()}\n${r.pathAndQuery}\n${r.timestamp}\n${r.nonce}\n${r.body}\n`;

export const signature = (secret: string, r: SignedRequest): string =>
  createHmac('sha256', secret).update(stringToSign(r), 'utf8').digest('base64');

/** The Authorization header's value for one try of a request. */
export const authorization = (merchantId: string, secret: string, r: SignedRequest): string =>
  `${auth_scheme} merchant_id="${merchantId}",timestamp="${r.timestamp}",nonce="${r.nonce}",signature="${signature(secret, r)}"`;

export type VerifyOptions = {
  /** How far the notification's `t` may be from now, in seconds (default 300). */
  toleranceS?: number;
  /** Now, in Unix milliseconds (default Date.now()); tests pass a fixed time. */
  nowMs?: number;
};

export type NotificationRefusal = 'malformed_header' | 'bad_signature' | 'outside_tolerance' | 'malformed_body';

export type VerifiedNotification = { ok: true; event: NotificationEvent } | { ok: false; reason: NotificationRefusal };

export const notification_tolerance_s = 300;
const header_length_max = 512;
const event_types = new Set(['payment.succeeded', 'payment.closed', 'refund.succeeded', 'refund.failed']);

function parseSignatureHeader(header: string | null | undefined): { t: number; v1: string[] } | null {
  if (!header || header.length > header_length_max) return null;
  let t: number | null = null;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const [key, value, ...rest] = part.trim().split('=');
    if (value === undefined || rest.length > 0) return null;
    if (key === 't' && /^[0-9]{1,12}$/.test(value)) t = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) v1.push(value);
  }
  return t === null || v1.length === 0 ? null : { t, v1 };
}

/**
 * Checks a notification as received: `header` is the `Paycenter-Signature` value, `rawBody` the
 * body's exact text (before any JSON parsing). The signature is compared in constant time, and
 * a `t` further than the tolerance from now is refused, so a recorded notification cannot be
 * replayed later. Only then is the body parsed into the event.
 */
export function verifyNotification(rawBody: string, header: string | null | undefined, secret: string, options: VerifyOptions = {}): VerifiedNotification {
  const parsed = parseSignatureHeader(header);
  if (!parsed) return { ok: false, reason: 'malformed_header' };
  const expected = createHmac('sha256', secret).update(`${parsed.t}.${rawBody}`, 'utf8').digest();
  // Any v1 may match: several appear while a merchant's secret is being rotated.
  const matches = parsed.v1.some((v) => timingSafeEqual(Buffer.from(v, 'hex'), expected));
  if (!matches) return { ok: false, reason: 'bad_signature' };
  const nowS = Math.floor((options.nowMs ?? Date.now()) / 1000);
  if (Math.abs(nowS - parsed.t) > (options.toleranceS ?? notification_tolerance_s)) return { ok: false, reason: 'outside_tolerance' };
  const event = eventOf(rawBody);
  return event ? { ok: true, event } : { ok: false, reason: 'malformed_body' };
}

function eventOf(rawBody: string): NotificationEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(rawBody);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { id, type, created_at, data } = value as Record<string, unknown>;
  const valid = typeof id === 'string' && id.startsWith('evt_') && typeof type === 'string' && event_types.has(type)
    && typeof created_at === 'string' && typeof data === 'object' && data !== null;
  // Signed by paycenter and shaped as documented: the rest of the object is the payment or refund.
  return valid ? (value as NotificationEvent) : null;
}
