/**
 * The record of operators' writes (API.md "Operator console": every write is recorded). One
 * middleware on the operator routes writes who, when and what for each write that succeeded —
 * the route and its target, never the body (it may carry keys).
 */
import type { MiddlewareHandler } from 'hono';
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import type { Store } from '../store/store.ts';

/** Who wrote: a browser session or a bearer token (the API). Sessions are not named yet: one operator token. */
const actorOf = (authorization: string | undefined) => (authorization?.startsWith('Bearer ') ? 'admin (api)' : 'admin (console)');

export function recordWrites(store: Store, clock: Clock): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (c.req.method === 'GET' || c.req.path === '/admin/login' || c.res.status >= 400) return;
    const at = clock.now();
    await store.insertAdminAudit({
      id: newId('aud', at), at, actor: actorOf(c.req.header('authorization')), action: c.req.method,
      target: c.req.path, detail: { status: c.res.status },
    });
  };
}
