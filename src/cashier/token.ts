/**
 * The cashier link's token: an HMAC of the payment id under SECRET_KEY, so a payer's browser
 * can open exactly that payment's cashier page and nothing else.
 */
import { createHmac } from 'node:crypto';
import { constantTimeEqual } from '../secrets.ts';

const token_chars = 22;

export function cashierToken(secretKey: Uint8Array, paymentId: string): string {
  return createHmac('sha256', secretKey).update(`cashier:${paymentId}`).digest('base64url').slice(0, token_chars);
}

export function cashierTokenValid(secretKey: Uint8Array, paymentId: string, token: string): boolean {
  return constantTimeEqual(cashierToken(secretKey, paymentId), token);
}

export function cashierUrl(publicUrl: string, secretKey: Uint8Array, paymentId: string): string {
  return `${publicUrl}/cashier/${paymentId}?t=${cashierToken(secretKey, paymentId)}`;
}
