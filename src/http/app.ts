/**
 * The Hono application: every route of API.md is mounted here. Routes validate,
 * authenticate, dispatch to order actors and shape answers; they never change state themselves.
 */
import { Hono } from 'hono';
import type { Logger } from '../log.ts';
import type { Store } from '../store/store.ts';
import { newId } from '../ids.ts';

export type AppDeps = {
  store: Store;
  log: Logger;
  /** Extra readiness checks (Redis when configured), each resolving when its dependency answers. */
  readiness: Array<{ name: string; check: () => Promise<void> }>;
};

const request_id_length_max = 128;

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();

  app.use(async (c, next) => {
    const given = c.req.header('x-request-id');
    const requestId = given && given.length <= request_id_length_max ? given : newId('req');
    c.header('X-Request-Id', requestId);
    await next();
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', async (c) => {
    const checks = [{ name: 'store', check: () => deps.store.ping() }, ...deps.readiness];
    const results = await Promise.all(
      checks.map(async ({ name, check }) => [name, await check().then(() => 'ok', (e: unknown) => `down: ${(e as Error).message}`)] as const),
    );
    const ready = results.every(([, status]) => status === 'ok');
    return c.json({ status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(results) }, ready ? 200 : 503);
  });

  return app;
}
