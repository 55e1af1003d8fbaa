/**
 * The Hono application: every route of API.md is mounted here, with the cross-cutting parts
 * in one place — request ids, the body limit, logs and metrics, and the one error mapper.
 */
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { openAPIRouteHandler } from 'hono-openapi';
import { dirname, join } from 'node:path';
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import { DependencyError, isOverload } from '../failures.ts';
import type { Logger } from '../log.ts';
import { cashierRoutes } from '../cashier/routes.tsx';
import { channel_plugins } from '../channels/plugins.ts';
import type { ChannelRegistry } from '../channels/registry.ts';
import { statementMediaTypeOf } from '../channels/statement.ts';
import type { MerchantDirectory } from '../merchants/directory.ts';
import type { Metrics } from '../metrics.ts';
import type { Payments } from '../payments/service.ts';
import type { Store } from '../store/store.ts';
import type { DurableCommitter } from '../../actors/durable-commit.ts';
import type { EffectRunner } from '../../actors/effect-runner.ts';
import type { Engine } from '../../actors/engine.ts';
import { type MerchantEnv, merchantAuth } from './auth.ts';
import { ApiError, errorBody } from './errors.ts';
import type { NonceGuard } from './nonces.ts';
import type { RateLimiter } from './rate-limit.ts';
import { adminRoutes } from './routes/admin.ts';
import type { ChannelHealth } from '../routing/channel-health.ts';
import type { Router } from '../routing/router.ts';
import { adminRiskRoutes } from './routes/admin-risk.ts';
import type { Risk } from '../risk/open.ts';
import type { Alerts } from '../alerts/alerts.ts';
import type { Reconciliation } from '../recon/reconciliation.ts';
import { callbackRoutes } from './routes/callbacks.ts';
import { merchantRoutes } from './routes/merchant.ts';
import { balanceRoutes } from './routes/balances.ts';
import { Balances } from '../balance/balances.ts';
import { redeliverRoutes } from './routes/merchant-redeliver.ts';
import type { Links } from './views.ts';
import { CallbackIntake } from './callback-intake.ts';
import { callerAddress } from './client-address.ts';
import { type EdgeSettings, htmlSecurity, metricsGuard } from './edge.ts';
import { admission, shed_retry_after_s } from './admission.ts';
import { liveness, notReady, readiness } from './answers.ts';
import { describeIn, jsonAnswer, openApiOptions, textAnswer } from './openapi.ts';
import { consoleErrorAnswer } from '../console/errors.tsx';

export const body_bytes_max = 64 * 1024;

/** How long a browser may keep the tab icon. */
const favicon_cache_s = 86_400;
/** A ¥ on the console's blue: the tab icon of every page. */
const favicon_svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1d2433"/><text x="16" y="23" font-size="20" text-anchor="middle" fill="#fff" font-family="sans-serif">¥</text></svg>';
const request_id_length_max = 128;

/** API.md's content type for every JSON answer; Hono's `c.json` leaves the charset out. */
const json_content_type = 'application/json; charset=utf-8';

export type AppDeps = {
  store: Store;
  /** The process's durable write path (actors/durable-commit.ts): callbacks are recorded through it. */
  committer: DurableCommitter;
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
  health: ChannelHealth;
  router: Router;
  risk: Risk;
  alerts: Alerts;
  recon: Reconciliation;
  /** Readiness checks besides the store's (Redis when configured). */
  readiness: Array<{ name: string; check: () => Promise<void> }>;
  /** `bun dev` only: a signature that does not verify is answered with the string the server signed. */
  explainSignatures?: boolean;
  /** Extra applications mounted at a path (the channel sandbox under `bun dev`). */
  mounts?: Array<{ path: string; app: Hono }>;
  edge: EdgeSettings;
};

/** Failures that are a dependency's, not the request's: safe to retry. */
const isUnavailable = (error: unknown) => error instanceof DependencyError;

function toApiError(error: unknown, log: Logger, requestId: string): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof HTTPException && error.status === 400) return new ApiError('invalid_request', 'body is not valid JSON', 'body');
  if (isOverload(error)) return new ApiError('unavailable', 'paycenter is at capacity; retry with the same request', null, { 'Retry-After': String(shed_retry_after_s) });
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
    // In place, as htmlSecurity does: after `next()`, `c.header` copies the whole Response to set one header.
    const headers = c.res.headers;
    headers.set('X-Request-Id', requestId);
    if (headers.get('content-type') === 'application/json') headers.set('Content-Type', json_content_type);
    const seconds = (performance.now() - started) / 1000;
    deps.metrics.request(c.req.method, c.req.routePath, c.res.status, seconds);
    deps.log.info('request', {
      request_id: requestId, method: c.req.method, route: c.req.routePath, status: c.res.status, ms: Math.round(seconds * 1000),
      merchant_id: c.get('merchant')?.id, payment_id: c.req.param('id')?.startsWith('pay_') ? c.req.param('id') : undefined,
    });
  });

  // Before anything that does work: a shed request has used nothing (no nonce, no rate-limit token, no row).
  app.use(admission(deps.edge.admission, deps.metrics.registry));
  app.use(htmlSecurity([docs_init_script]));

  // Callbacks have their own limit: a provider's notify is refused in the provider's format, and recorded first.
  // Callbacks and statement uploads read their bodies with limits of their own.
  // (Not hono/combine's `except`: it builds and throws away an Error, stack and all, on every request it lets through.)
  const limitBody = bodyLimit({
    maxSize: body_bytes_max, onError: () => { throw new ApiError('invalid_request', `body exceeds ${body_bytes_max} bytes`, 'body'); },
  });
  // Only a statement file is exempt on the upload route: anything else (a form, which the operator
  // routes' CSRF check would parse whole) keeps the ordinary limit.
  const ownLimit = (c: Context) => c.req.path.startsWith('/callbacks/')
    || (c.req.path === '/admin/reconciliations/upload' && statementMediaTypeOf(c.req.header('content-type')) !== null);
  app.use((c, next) => (ownLimit(c) ? next() : limitBody(c, next)));

  const v1 = new Hono<MerchantEnv>();
  v1.use(merchantAuth({ merchants: deps.merchants, nonces: deps.nonces, rateLimiter: deps.rateLimiter, clock: deps.clock, explainSignatures: deps.explainSignatures }));
  v1.route('/', merchantRoutes(deps.payments, deps.links, deps.edge.outbound));
  const balances = new Balances({ ledger: deps.store.ledger, clock: deps.clock });
  v1.route('/', balanceRoutes(balances));
  v1.route('/events', redeliverRoutes({ store: deps.store, clock: deps.clock }));
  app.route('/v1', v1);
  const addressOf = callerAddress(deps.edge.trustedProxies);
  app.route('/callbacks', callbackRoutes({
    store: deps.store, committer: deps.committer, engine: deps.engine, channels: deps.channels, clock: deps.clock, log: deps.log,
    intake: new CallbackIntake(deps.edge.callbackIntake), onRefused: deps.metrics.callbackRefused, addressOf,
  }));
  app.route('/cashier', cashierRoutes({
    payments: deps.payments, engine: deps.engine, merchants: deps.merchants, runner: deps.runner, clock: deps.clock, links: deps.links,
    router: deps.router, balances,
  }));
  for (const mount of deps.mounts ?? []) app.route(mount.path, mount.app);
  mountChannelPages(app, deps.channels, deps.clock);
  app.route('/admin', adminRoutes({
    adminToken: deps.adminToken, merchants: deps.merchants, store: deps.store, secretKey: deps.links.secretKey, clock: deps.clock, alerts: deps.alerts, recon: deps.recon, links: deps.links,
    channels: deps.channels,
    outbound: deps.edge.outbound, sessions: deps.edge.adminSessions, addressOf, health: deps.health, balances, risk: deps.risk,
  }));
  // Behind the operator authentication the /admin application installs for every /admin path.
  app.route('/admin/risk', adminRiskRoutes({ risk: deps.risk, clock: deps.clock }));

  app.get('/healthz', describeIn('operations', { summary: 'The process is up', responses: { 200: jsonAnswer(liveness, 'Up.') } }), (c) => c.json({ status: 'ok' }));
  app.get('/favicon.svg', (c) => c.body(favicon_svg, 200, { 'content-type': 'image/svg+xml', 'cache-control': `public, max-age=${favicon_cache_s}` }));
  app.get('/favicon.ico', (c) => c.redirect('/favicon.svg', 301));
  app.get('/readyz', describeIn('operations', {
    summary: 'Whether this instance can serve: the store answers, and Redis when configured',
    responses: { 200: jsonAnswer(readiness, 'Ready.'), 503: jsonAnswer(notReady, 'Not ready: the error body, with each check beside it.') },
  }), async (c) => {
    const parts = [{ name: 'store', check: () => deps.store.ping() }, ...deps.readiness];
    const results = await Promise.all(parts.map(async ({ name, check }) => [name, await check().then(() => 'ok', () => 'down')] as const));
    const down = results.filter(([, status]) => status !== 'ok').map(([name]) => name);
    const checks = Object.fromEntries(results);
    if (down.length === 0) return c.json({ status: 'ready', checks });
    // Every non-2xx answer has the error body (API.md); the checks stay beside it for whoever reads them.
    return c.json({ ...errorBody(new ApiError('unavailable', `not ready: ${down.join(', ')} down`), c.get('requestId')), status: 'unavailable', checks }, 503);
  });
  app.get('/metrics', describeIn('operations', {
    summary: 'Prometheus metrics (behind Authorization: Bearer $METRICS_TOKEN when one is set)',
    responses: { 200: textAnswer('text/plain', 'The Prometheus text format.') }, errors: [401],
  }), metricsGuard(deps.edge.metricsToken), async (c) => c.text(await deps.metrics.registry.metrics(), 200, { 'Content-Type': deps.metrics.registry.contentType }));
  app.get('/openapi.json', openAPIRouteHandler(app, openApiOptions(deps.links.publicUrl)));
  mountDocs(app);

  // A browser on the console's paths gets its errors as pages (src/console/errors.tsx).
  app.notFound((c) => {
    const notFound = new ApiError('not_found', `no route ${c.req.method} ${new URL(c.req.url).pathname}`);
    return consoleErrorAnswer(c, notFound, c.get('requestId')) ?? c.json(errorBody(notFound, c.get('requestId')), 404);
  });
  app.onError((error, c) => {
    const apiError = toApiError(error, deps.log, c.get('requestId'));
    c.header('X-Request-Id', c.get('requestId'));
    for (const [name, value] of Object.entries(apiError.headers)) c.header(name, value);
    return consoleErrorAnswer(c, apiError, c.get('requestId')) ?? c.json(errorBody(apiError, c.get('requestId')), apiError.status);
  });
  return app;
}

/** The pages provider plug-ins need paycenter to serve (a form a payer's browser posts to a gateway), at /channels/{provider}. */
function mountChannelPages(app: Hono<MerchantEnv>, channels: ChannelRegistry, clock: Clock): void {
  const adapters = (code: string) => channels.own(code);
  for (const plugin of channel_plugins) if (plugin.pages) app.route(`/channels/${plugin.provider}`, plugin.pages({ adapters, clock }));
}

/** Swagger UI from the swagger-ui-dist package, served by the app itself: /docs works offline. */
const swaggerDir = dirname(require.resolve('swagger-ui-dist/package.json'));
const docsAssets = new Set(['swagger-ui.css', 'swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js']);
/** The page's one inline script, allowed by its hash in the HTML policy (edge.ts). */
const docs_init_script = "window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui' });";
const docsPage = `<!doctype html><html><head><meta charset="utf-8"><title>paycenter API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>${docs_init_script}</script></body></html>`;

function mountDocs(app: Hono<MerchantEnv>): void {
  app.get('/docs', (c) => c.html(docsPage));
  app.get('/docs/assets/:file', (c) => {
    const file = c.req.param('file');
    if (!docsAssets.has(file)) throw new ApiError('not_found', `no asset ${file}`);
    return new Response(Bun.file(join(swaggerDir, file)));
  });
}
