/**
 * Merchant authentication for /v1 (PAYC-HMAC-SHA256): the signature over method, path and
 * query, timestamp, nonce and the raw body; a ±300 s window; each nonce once; then the
 * merchant's rate limit. Only a request that verifies can use up a nonce or a token, and every
 * request that verifies does use up its nonce, whatever it is answered: a refused request
 * replayed later, once the refusal no longer holds, must not succeed.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { Clock } from '../clock.ts';
import type { Merchant, MerchantDirectory } from '../merchants/directory.ts';
import { constantTimeEqual } from '../secrets.ts';
import { ApiError } from './errors.ts';
import type { NonceGuard, RidingNonce } from './nonces.ts';
import type { RateLimiter } from './rate-limit.ts';
import { nonCanonicalTarget } from './raw-target.ts';
import { parseAuthorization, requestSignature, stringToSign, withinWindow } from './signature.ts';

export type MerchantEnv = {
  Variables: {
    merchant: Merchant;
    requestId: string;
    /** A nonce not claimed yet because it rides with this create's first durable step (RidingNonce). */
    ridingNonce: RidingNonce | null;
  };
};

/** Routes whose first durable step claims the request's nonce (RidingNonce); every other route claims it before it runs. */
const nonce_riding_routes = new Set(['POST /v1/payments']);

export type AuthDeps = {
  merchants: MerchantDirectory; nonces: NonceGuard; rateLimiter: RateLimiter; clock: Clock;
  /** `bun dev` only, never in production: say what was signed, so a merchant can diff it with its own. */
  explainSignatures?: boolean;
};

const explained_chars_max = 2_048;

/** The refusal of a bad signature; under `bun dev` it carries the string the server signed (JSON-quoted, body cut at a bound). */
function badSignature(explain: boolean | undefined, signed: string): ApiError {
  if (!explain) return new ApiError('unauthenticated', 'the signature does not verify');
  const shown = signed.length > explained_chars_max ? `${signed.slice(0, explained_chars_max)}…` : signed;
  return new ApiError('unauthenticated', `the signature does not verify; the server signed (shown under bun dev only): ${JSON.stringify(shown)}`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The path and query exactly as the client sent them (what it signed). */
export function pathAndQueryOf(url: string): string {
  return url.slice(url.indexOf('/', url.indexOf('//') + 2));
}

export function merchantAuth(deps: AuthDeps): MiddlewareHandler<MerchantEnv> {
  return async (c, next) => {
    if (nonCanonicalTarget(c)) {
      throw new ApiError('invalid_request', 'the path is not in canonical form (no ".", ".." or "%2e" segments, no backslashes): send it as signed, as API.md writes it');
    }
    const parts = parseAuthorization(c.req.header('authorization'));
    if (!parts) throw new ApiError('unauthenticated', 'missing or malformed Authorization header');
    const merchant = await deps.merchants.find(parts.merchantId);
    // An unknown merchant and a bad signature answer alike: merchant ids are not to be probed.
    if (!merchant) throw new ApiError('unauthenticated', 'the signature does not verify');
    const now = deps.clock.now();
    if (!withinWindow(parts.timestamp, now)) throw new ApiError('timestamp_out_of_window', 'timestamp is more than 300 s from server time');
    const body = new Uint8Array(await c.req.arrayBuffer());
    const expected = requestSignature(merchant.secret.reveal(), c.req.method, pathAndQueryOf(c.req.url), parts.timestamp, parts.nonce, body);
    if (!constantTimeEqual(expected, parts.signature)) {
      throw badSignature(deps.explainSignatures, stringToSign(c.req.method, pathAndQueryOf(c.req.url), parts.timestamp, parts.nonce, body));
    }
    const riding = nonce_riding_routes.has(`${c.req.method} ${new URL(c.req.url).pathname}`) ? deps.nonces.riding(merchant.id, parts.nonce) : null;
    if (!riding && !(await deps.nonces.claim(merchant.id, parts.nonce))) throw new ApiError('replayed_request', 'this nonce was used before');
    c.set('ridingNonce', riding);
    try {
      await admitted(c, deps, merchant, body, now);
    } catch (refusal) {
      await claimUnspent(c);
      throw refusal;
    }
    await next();
    // The route's answer (an error included) changed nothing if its nonce is still unspent: a replay is said to be one.
    if (!(await claimUnspent(c))) throw new ApiError('replayed_request', 'this nonce was used before');
  };
}

/** What a verified request must still pass before its route runs. */
async function admitted(c: Context<MerchantEnv>, deps: AuthDeps, merchant: Merchant, body: Uint8Array, now: number): Promise<void> {
  if (merchant.status !== 'enabled') throw new ApiError('merchant_disabled', `merchant ${merchant.id} is disabled`);
  const rate = await deps.rateLimiter.take(merchant.id, now);
  if (!rate.ok) throw new ApiError('rate_limited', 'too many requests', null, { 'Retry-After': String(rate.retryAfterS) });
  keepBodyText(c, utf8Text(body));
  c.set('merchant', merchant);
}

/** The body as text; bytes that are not UTF-8 are refused. */
function utf8Text(body: Uint8Array): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new ApiError('invalid_request', 'body is not valid UTF-8', 'body');
  }
}

/**
 * The body's text, decoded once to check it, handed to the route's readers (`c.req.text()`,
 * `c.req.json()`, the JSON validator), which Hono would otherwise serve by decoding the bytes
 * again through a new Response: 5–9 % of a create's own work on the event loop, measured alone
 * (docs/benchmarks.md, http "Session 26"). Hono's cache holds promises; its type says values.
 */
function keepBodyText(c: Context<MerchantEnv>, text: string): void {
  (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(text);
}

/**
 * Claims a riding nonce the route did not spend (a create refused before any write: by its
 * method, a channel or a risk rule before the counters; a validation failure); false when it was
 * used before. Such a request went through the route without changing anything.
 */
async function claimUnspent(c: Context<MerchantEnv>): Promise<boolean> {
  const riding = c.get('ridingNonce');
  if (!riding || riding.spent) return true;
  riding.spent = true;
  return riding.claim();
}
