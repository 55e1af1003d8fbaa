/**
 * The record of operators' writes (API.md "Operator console": every write is recorded). One
 * middleware on the operator routes writes who, when and what for each write that succeeded —
 * the route and its target, never the body (it may carry keys).
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import type { Store } from '../store/store.ts';

/** Who wrote: a browser session or a bearer token (the API). Sessions are not named yet: one operator token. */
export const actorOf = (authorization: string | undefined) => (authorization?.startsWith('Bearer ') ? 'admin (api)' : 'admin (console)');

/** Requests whose route found nothing to change (a repeated acknowledgement): answered, not recorded. */
const unchanged = new WeakSet<Request>();

/** Tells the record that this request, though answered with success, wrote nothing. */
export const markUnchanged = (c: Context): void => void unchanged.add(c.req.raw);

/**
 * `openPaths`: the routes anyone may post without signing in (sign-in, sign-out) — no operator's
 * writes, and recording them would let anybody fill the record in an operator's name.
 */
export function recordWrites(store: Store, clock: Clock, openPaths: ReadonlySet<string>): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (c.req.method === 'GET' || openPaths.has(c.req.path) || c.res.status >= 400 || unchanged.has(c.req.raw)) return;
    const at = clock.now();
    await store.insertAdminAudit({
      id: newId('aud', at), at, actor: actorOf(c.req.header('authorization')), action: c.req.method,
      target: c.req.path, detail: { status: c.res.status },
    });
  };
}
