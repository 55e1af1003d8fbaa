/**
 * The Hono application: every route of API.md is mounted here, with the cross-cutting parts
 * in one place — request ids, the body limit, logs and metrics, and the one error mapper.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { except } from 'hono/combine';
import { HTTPException } from 'hono/http-exception';
import { openAPIRouteHandler } from 'hono-openapi';
import { dirname, join } from 'node:path';
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import { LockUnavailableError } from '../lock/lock.ts';
import type { Logger } from '../log.ts';
import { cashierRoutes } from '../cashier/routes.tsx';
import type { ChannelRegistry } from '../channels/registry.ts';
import type { MerchantDirectory } from '../merchants/directory.ts';
import type { Metrics } from '../metrics.ts';
import type { Payments } from '../payments/service.ts';
import type { Store } from '../store/store.ts';
import type { EffectRunner } from '../../actors/effect-runner.ts';
import type { Engine } from '../../actors/engine.ts';
import { MailboxFullError } from '../../actors/mailbox.ts';
import { type MerchantEnv, merchantAuth } from './auth.ts';
import { ApiError, errorBody } from './errors.ts';
import type { NonceGuard } from './nonces.ts';
import type { RateLimiter } from './rate-limit.ts';
import { adminRoutes } from './routes/admin.ts';
import type { Alerts } from '../alerts/alerts.ts';
import type { Reconciliation } from '../recon/reconciliation.ts';
import { callbackRoutes } from './routes/callbacks.ts';
import { merchantRoutes } from './routes/merchant.ts';
import type { Links } from './views.ts';

export const body_bytes_max = 64 * 1024;
const request_id_length_max = 128;

/** API.md's content type for every JSON answer; Hono's `c.json` leaves the charset out. */
const json_content_type = 'application/json; charset=utf-8';

export type AppDeps = {
  store: Store;
  log: Logger;
  clock: Clock;
  metrics: Metrics;
  merchants: MerchantDirectory;
  payments: Payments;
  engine: Engine;
  channels: ChannelRegistry;
  runner: EffectRunner;
  nonces: NonceGuard;
  rateLimiter: RateLimiter;
  links: Links;
  adminToken: string;
  alerts: Alerts;
  recon: Reconciliation;
  /** Readiness checks besides the store's (Redis when configured). */
  readiness: Array<{ name: string; check: () => Promise<void> }>;
  /** Extra applications mounted at a path (the channel sandbox under `bun dev`). */
  mounts?: Array<{ path: string; app: Hono }>;
};

/** Failures that are a dependency's, not the request's: safe to retry. */
const isUnavailable = (error: unknown) => error instanceof LockUnavailableError || error instanceof MailboxFullError;

function toApiError(error: unknown, log: Logger, requestId: string): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof HTTPException && error.status === 400) return new ApiError('invalid_request', 'body is not valid JSON', 'body');
  if (isUnavailable(error)) return new ApiError('unavailable', 'a dependency is busy or down; retry with the same request');
  log.error('request failed', { request_id: requestId, error: String(error), stack: (error as Error)?.stack });
  return new ApiError('unavailable', 'the request could not be completed; retry with the same request');
}

export function createApp(deps: AppDeps): Hono<MerchantEnv> {
  const app = new Hono<MerchantEnv>();

  app.use(async (c, next) => {
    const given = c.req.header('x-request-id');
    const requestId = given && given.length <= request_id_length_max ? given : newId('req');
    c.set('requestId', requestId);
    const started = performance.now();
    await next();
    c.header('X-Request-Id', requestId);
    if (c.res.headers.get('content-type') === 'application/json') c.header('Content-Type', json_content_type);
    const seconds = (performance.now() - started) / 1000;
    deps.metrics.request(c.req.method, c.req.routePath, c.res.status, seconds);
    deps.log.info('request', {
      request_id: requestId, method: c.req.method, route: c.req.routePath, status: c.res.status, ms: Math.round(seconds * 1000),
      merchant_id: c.get('merchant')?.id, payment_id: c.req.param('id')?.startsWith('pay_') ? c.req.param('id') : undefined,
    });
  });

  // Callbacks have their own limit: a provider's notify is refused in the provider's format, and recorded first.
  // Callbacks and statement uploads read their bodies with limits of their own.
  app.use(except(['/callbacks/*', '/admin/reconciliations/upload'], bodyLimit({
    maxSize: body_bytes_max, onError: () => { throw new ApiError('invalid_request', `body exceeds ${body_bytes_max} bytes`, 'body'); },
  })));

  const v1 = new Hono<MerchantEnv>();
  v1.use(merchantAuth({ merchants: deps.merchants, nonces: deps.nonces, rateLimiter: deps.rateLimiter, clock: deps.clock }));
  v1.route('/', merchantRoutes(deps.payments, deps.links));
  app.route('/v1', v1);
  app.route('/callbacks', callbackRoutes({ store: deps.store, engine: deps.engine, channels: deps.channels, clock: deps.clock, log: deps.log }));
  app.route('/cashier', cashierRoutes({
    payments: deps.payments, engine: deps.engine, merchants: deps.merchants, runner: deps.runner, clock: deps.clock, links: deps.links,
  }));
  for (const mount of deps.mounts ?? []) app.route(mount.path, mount.app);
  app.route('/admin', adminRoutes({ adminToken: deps.adminToken, merchants: deps.merchants, store: deps.store, secretKey: deps.links.secretKey, clock: deps.clock, alerts: deps.alerts, recon: deps.recon }));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const checks = [{ name: 'store', check: () => deps.store.ping() }, ...deps.readiness];
    const results = await Promise.all(checks.map(async ({ name, check }) => [name, await check().then(() => 'ok', () => 'down')] as const));
    const ready = results.every(([, status]) => status === 'ok');
    return c.json({ status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(results) }, ready ? 200 : 503);
  });
  app.get('/metrics', async (c) => c.text(await deps.metrics.registry.metrics(), 200, { 'Content-Type': deps.metrics.registry.contentType }));
  app.get('/openapi.json', openAPIRouteHandler(app, { documentation: openApiInfo(deps.links.publicUrl) }));
  mountDocs(app);

  app.notFound((c) => c.json(errorBody(new ApiError('not_found', `no route ${c.req.method} ${new URL(c.req.url).pathname}`), c.get('requestId')), 404));
  app.onError((error, c) => {
    const apiError = toApiError(error, deps.log, c.get('requestId'));
    c.header('X-Request-Id', c.get('requestId'));
    for (const [name, value] of Object.entries(apiError.headers)) c.header(name, value);
    return c.json(errorBody(apiError, c.get('requestId')), apiError.status);
  });
  return app;
}

function openApiInfo(publicUrl: string) {
  return {
    openapi: '3.1.0',
    info: { title: 'paycenter', version: '1', description: 'The signed merchant API, operator routes and operations of paycenter.' },
    servers: [{ url: publicUrl }],
    components: {
      securitySchemes: {
        merchantSignature: {
          type: 'apiKey' as const, in: 'header' as const, name: 'Authorization',
          description: 'PAYC-HMAC-SHA256 merchant_id="…",timestamp="…",nonce="…",signature="base64(HMAC_SHA256(secret, METHOD\\nPATH_AND_QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n))"',
        },
        adminToken: { type: 'http' as const, scheme: 'bearer' },
      },
    },
  };
}

/** Swagger UI from the swagger-ui-dist package, served by the app itself: /docs works offline. */
const swaggerDir = dirname(require.resolve('swagger-ui-dist/package.json'));
const docsAssets = new Set(['swagger-ui.css', 'swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js']);
const docsPage = `<!doctype html><html><head><meta charset="utf-8"><title>paycenter API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui' });</script></body></html>`;

function mountDocs(app: Hono<MerchantEnv>): void {
  app.get('/docs', (c) => c.html(docsPage));
  app.get('/docs/assets/:file', (c) => {
    const file = c.req.param('file');
    if (!docsAssets.has(file)) throw new ApiError('not_found', `no asset ${file}`);
    return new Response(Bun.file(join(swaggerDir, file)));
  });
}
