/**
 * CSRF tokens for the console's forms. A browser signed in at /admin/login holds a session
 * cookie; a form it posts must carry `_csrf`, an HMAC of that cookie's value under SECRET_KEY, so
 * a page on another site — which can make the browser send the cookie but cannot read the page —
 * can never post one. Bound to the session: a new sign-in gets new tokens.
 */
import { createHmac } from 'node:crypto';
import type { Context } from 'hono';
import { constantTimeEqual } from '../secrets.ts';

/** The form field (or `X-CSRF-Token` header) a console write carries. */
export const csrf_field = '_csrf';

export const csrfToken = (secretKey: Uint8Array, session: string): string =>
  createHmac('sha256', secretKey).update(`csrf\u0000${session}`).digest('base64url');

/** Whether the request carries the token of this session (in its form, or the header for scripts). */
export async function csrfMatches(c: Context, secretKey: Uint8Array, session: string): Promise<boolean> {
  const header = c.req.header('x-csrf-token');
  const type = c.req.header('content-type') ?? '';
  const form = header === undefined && type.startsWith('application/x-www-form-urlencoded') ? await c.req.parseBody() : {};
  const given = header ?? form[csrf_field];
  return typeof given === 'string' && constantTimeEqual(csrfToken(secretKey, session), given);
}
