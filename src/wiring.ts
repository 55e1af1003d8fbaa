/**
 * Builds a running paycenter from a validated config: store, lock, engine, merchants,
 * payments, HTTP. Wired by hand, once; main.ts and the test harness both start it here.
 */
import type Redis from 'ioredis';
import type { Hono } from 'hono';
import { DurableCommitter, commitsInFlightFor } from '../actors/durable-commit.ts';
import { EffectRunner } from '../actors/effect-runner.ts';
import { Parking } from '../actors/parking.ts';
import { Engine, default_engine_options } from '../actors/engine.ts';
import { RedisTimerIndex } from '../actors/redis-timers.ts';
import { Ticker } from '../actors/ticker.ts';
import { Alerts, alertIdFor } from './alerts/alerts.ts';
import { NotificationDelivery, default_delivery_options } from './notify/delivery.ts';
import { ChannelRegistry, type RegistryOptions, default_registry_options } from './channels/registry.ts';
import { type Clock, systemClock } from './clock.ts';
import { type Config, ConfigError } from './config.ts';
import { createApp } from './http/app.ts';
import { serveOptions } from './http/raw-target.ts';
import { type NonceGuard, RedisNonceGuard, StoreNonceGuard } from './http/nonces.ts';
import { LocalRateLimiter, type RateLimiter, RedisRateLimiter } from './http/rate-limit.ts';
import { notificationDataOf } from './http/views.ts';
import { LocalLock } from './lock/local.ts';
import type { Lock } from './lock/lock.ts';
import { RedlockLock } from './lock/redlock.ts';
import { type Logger, createLogger } from './log.ts';
import { MerchantDirectory } from './merchants/directory.ts';
import { type Metrics, createMetrics } from './metrics.ts';
import { Payments } from './payments/service.ts';
import { Reconciliation, default_recon_options } from './recon/reconciliation.ts';
import { ReconSchedule } from './recon/schedule.ts';
import { type Risk, openRisk } from './risk/open.ts';
import { RiskReleases } from './risk/releases.ts';
import { DailyVolumes } from './routing/daily-volume.ts';
import { RedisBoard, StoreBoard } from './routing/breaker-board.ts';
import { Breakers } from './routing/breakers.ts';
import { ChannelHealth } from './routing/channel-health.ts';
import { LocalHealth, RedisHealth } from './routing/health.ts';
import { routingMetrics } from './routing/metrics.ts';
import { ObservedAdapter } from './routing/observed-adapter.ts';
import { redisClient } from './redis-client.ts';
import { Router } from './routing/router.ts';
import { feeRateTenThousandths } from './routing/strategies.ts';
import { successRate } from './routing/window.ts';
import { openSealed } from './secrets.ts';
import { openStore } from './store/open.ts';
import { Retention, default_retention_options } from './retention.ts';
import type { BreakerTransitionRow, Store } from './store/store.ts';

export type Paycenter = {
  url: string;
  store: Store;
  /** The process's durable write path (actors/durable-commit.ts). */
  committer: DurableCommitter;
  engine: Engine;
  ticker: Ticker;
  delivery: NotificationDelivery;
  retention: Retention;
  runner: EffectRunner;
  channels: ChannelRegistry;
  merchants: MerchantDirectory;
  risk: Risk;
  log: Logger;
  health: ChannelHealth;
  router: Router;
  alerts: Alerts;
  recon: Reconciliation;
  reconSchedule: ReconSchedule;
  stop(): Promise<void>;
};

/** Tests pass a ManualClock and tick by hand instead of waiting for the ticker's and delivery's loops. */
export type StartOptions = {
  clock?: Clock; log?: Logger; manualTicker?: boolean; random?: () => number;
  /** Applications mounted beside the API at their paths (the channel sandbox under `bun dev`). */
  mounts?: Array<{ path: string; app: Hono }>;
  /** Channel call timeouts shorter than production's (tests of a provider that does not answer). */
  registry?: Partial<RegistryOptions>;
};

/**
 * Channel health, shared through Redis when configured (windows and breakers), else windows in
 * this process and breakers in the store; with its metrics.
 */
function channelHealth(deps: { config: Config; store: Store; redis: Redis | undefined; scope: string; clock: Clock; log: Logger; metrics: Metrics; alerts: Alerts }) {
  const { store, redis, clock, log } = deps;
  const windows = redis ? new RedisHealth(redis, `paycenter:${deps.scope}:health`) : new LocalHealth();
  const board = redis ? new RedisBoard(redis, store, `paycenter:${deps.scope}:breaker`) : new StoreBoard(store);
  // The instance that wins a move to open raises the alert, with an id from the transition's: once.
  const observer = {
    async moved(t: BreakerTransitionRow) {
      if (t.to === 'open') await deps.alerts.raise({ kind: 'breaker_open', channel: t.code, id: alertIdFor(t.id), message: `channel ${t.code}: breaker opened (${t.reason})` });
    },
  };
  const breakers = new Breakers({ board, store, health: windows, clock, log, observer }, deps.config.breaker);
  let health: ChannelHealth | undefined;
  const metrics = routingMetrics(deps.metrics.registry, async () => {
    const codes = (await store.listChannels()).map((row) => row.code);
    const states = await health!.states(codes);
    return codes.map((code) => ({ code, successRate: successRate(states.get(code)!.window.totals), breaker: states.get(code)!.breaker.state }));
  });
  health = new ChannelHealth({ windows, breakers, store, clock, log, observer: metrics });
  return { health, metrics };
}

/**
 * SECRET_KEY must open what the store holds, all sealed with one key: a backup restored beside
 * another key would start "ready" and then fail every signed request and channel call. One
 * merchant secret and one channel config are tried, right after the migrations (the rows need
 * this code's schema) and before anything else is written.
 */
async function checkSecretKey(store: Store, secretKey: Uint8Array): Promise<void> {
  const [merchant] = await store.listMerchants(null, 1);
  const [channel] = await store.listChannels();
  const sealed = [merchant && { what: `merchant ${merchant.id}'s secret`, value: merchant.secretEnc }, channel && { what: `channel ${channel.code}'s config`, value: channel.configEnc }];
  const unopened = sealed.find((s) => s && openSealed(secretKey, s.value) === null);
  if (unopened) throw new ConfigError('SECRET_KEY', `does not open ${unopened.what} in the database: it is not the key its secrets were sealed with (restored a backup? restore its SECRET_KEY too)`);
}

export async function startPaycenter(config: Config, options: StartOptions = {}): Promise<Paycenter> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? createLogger(config.logLevel);
  const store = await openStore(config.databaseUrl);
  for (const note of await store.migrate()) log.warn('store repaired at start', { note });
  await checkSecretKey(store, config.secretKey);

  const redis = config.redisUrls.map(redisClient);
  const lock: Lock = redis.length > 0 ? new RedlockLock(redis) : new LocalLock();
  const groupCommit = {
    batchMax: config.engine.commitBatchMax,
    waitMaxMs: config.engine.commitWaitMaxMs,
    inFlightMax: commitsInFlightFor(store.dialect),
    queueWritesMax: config.engine.commitQueueWritesMax,
  };
  const links = { publicUrl: config.publicUrl, secretKey: config.secretKey };

  const timerIndex = redis[0] ? new RedisTimerIndex(redis[0]) : undefined;
  let engine: Engine | undefined;
  let delivery: NotificationDelivery | undefined;
  let committer: DurableCommitter | undefined;
  const metrics = createMetrics({
    outboxBacklog: () => store.outboxBacklog(), mailboxBacklog: () => engine?.backlog ?? 0, commitQueue: () => committer?.waiting ?? 0,
    openAlerts: () => store.countOpenAlerts(),
  });
  committer = new DurableCommitter(store, clock, groupCommit, metrics.committed);
  const alerts = new Alerts({ store, clock, onRaised: metrics.alertRaised });
  const risk = await openRisk({
    databaseUrl: config.databaseUrl, store, redis: redis[0], clock, log, registry: metrics.registry,
    alert: (a) => alerts.raise({ kind: 'risk_review', message: a.message, paymentId: a.paymentId, id: alertIdFor(a.paymentId) }).then(() => undefined),
  });
  const parking = new Parking({
    store, clock, log,
    onParked: async (notice) => {
      metrics.rowParked(notice.source, notice.kind);
      await alerts.raise({
        kind: 'parked', paymentId: notice.orderId,
        message: `${notice.loop} parked ${notice.source === 'outbox' ? `outbox row ${notice.ref} (${notice.kind})` : `timer ${notice.ref}`}: ${notice.error}`,
      }).catch((error) => log.error('alert not recorded', { payment_id: notice.orderId, ref: notice.ref, error: String(error) }));
    },
  });
  const releases = new RiskReleases({ store, committer, counters: risk.counters, clock, log, parking, random: options.random });
  engine = new Engine(
    {
      store, committer, lock, observer: metrics.engineObserver,
      onCommitted: (write) => {
        if (timerIndex) void timerIndex.follow(write, log);
        if (write.merchantEvents.length > 0) delivery?.wake();
        void risk.center.committed(write).catch((error) => log.error('risk bookkeeping failed', { order_id: write.order.id, error: String(error) }));
        void releases.committed(write).catch((error) => log.error('risk release not recorded', { order_id: write.order.id, error: String(error) }));
      },
      renderNotification: notificationDataOf(links),
    },
    { ...default_engine_options, lockTtlMs: config.engine.lockTtlMs, mailboxDepthMax: config.engine.mailboxDepthMax },
  );
  const merchants = new MerchantDirectory(store, config.secretKey, clock);
  const nonces: NonceGuard = redis[0] ? new RedisNonceGuard(redis[0]) : new StoreNonceGuard(committer, clock);
  const rateLimiter: RateLimiter = redis[0] ? new RedisRateLimiter(redis[0], config.rateLimit) : new LocalRateLimiter(config.rateLimit);

  const health = channelHealth({ config, store, redis: redis[0], scope: await store.loadRoutingScope(), clock, log, metrics, alerts });
  const channels = new ChannelRegistry({
    store, secretKey: config.secretKey, clock, publicUrl: config.publicUrl, log, observe: (adapter, code) => new ObservedAdapter(adapter, code, health.health),
    onConnectionReset: (channel) => {
      metrics.channelConnectionReset(channel);
      log.warn('channel call sent again: its connection was reset before the answer was read', { channel });
    },
  }, { ...default_registry_options, ...options.registry });
  const runner = new EffectRunner({ store, committer, engine, channels, alerts, clock, log, parking, random: options.random });
  const volumes = new DailyVolumes({ store, clock });
  const recon = new Reconciliation(
    { store, channels, engine, alerts, clock, log, feeRateOf: (row) => ({ tenThousandths: feeRateTenThousandths(row.feeRate) }) },
    { ...default_recon_options, holdDays: config.recon.holdDays },
  );
  const reconSchedule = new ReconSchedule({ recon, channels, clock, log, atMs: config.recon.atMs });
  const router = new Router({ channels, volumes, health: health.health, random: options.random ?? Math.random });
  const payments = new Payments(
    { engine, store, clock, channels, router, runner, risk: risk.center, onFailover: health.metrics.failover }, { querySchedule: config.queryScheduleMs },
  );
  const app = createApp({
    store, committer, log, clock, metrics, merchants, payments, engine, channels, runner, nonces, rateLimiter, links, mounts: options.mounts, risk,
    adminToken: config.adminToken, alerts, recon, explainSignatures: config.mode === 'dev', health: health.health, router,
    edge: {
      outbound: { allowPrivate: config.outboundAllowPrivate }, metricsToken: config.metricsToken, callbackIntake: config.callbackIntake,
      admission: config.admission,
      adminSessions: { sessionMs: config.adminSessionMs, secureCookie: config.publicUrl.startsWith('https:') },
      trustedProxies: config.trustedProxies,
    },
    readiness: redis.map((client, i) => ({ name: `redis${i}`, check: async () => void (await client.ping()) })),
  });
  const server = Bun.serve({ port: config.port, hostname: config.host, ...serveOptions(app) });
  if (timerIndex) log.info('timer index seeded', { timers: await timerIndex.seed(store) });
  const ticker = new Ticker({ engine, store, clock, log, parking, index: timerIndex });
  delivery = new NotificationDelivery(
    {
      store, committer, engine, merchants, clock, log, parking, random: options.random,
      onFailed: (failed) => {
        metrics.notificationFailed();
        void alerts.raise({
          // One alert each time the event runs out of tries: a redelivery that fails again is news to an operator.
          id: alertIdFor(failed.attemptId), kind: 'notify_failed', paymentId: failed.paymentId,
          message: `notification ${failed.eventId} to merchant ${failed.merchantId} ran out of tries: ${failed.error ?? 'no 2xx answer'}`,
        }).catch((error) => log.error('alert not recorded', { event_id: failed.eventId, error: String(error) }));
      },
      outbound: { allowPrivate: config.outboundAllowPrivate },
    },
    { ...default_delivery_options, retryScheduleMs: config.notifyRetryMs },
  );
  const retention = new Retention({ store, clock, log }, { ...default_retention_options, callbackRetentionMs: config.callbackRetentionMs });
  if (!options.manualTicker) {
    ticker.start();
    delivery.start();
    runner.start();
    releases.start();
    reconSchedule.start();
    retention.start();
  }

  /** Requests in flight are answered first; then the loops stop, then what they write to. */
  const shutDown = async () => {
    await drained(server);
    await ticker.stop();
    await delivery.stop();
    await runner.stop();
    await releases.stop();
    await reconSchedule.stop();
    await retention.stop();
    await lock.close();
    await risk.close();
    await store.close();
  };
  let stopping: Promise<void> | null = null;

  return {
    url: `http://${config.host}:${server.port}`,
    store, committer, engine, ticker, delivery, retention, runner, channels, merchants, risk, log, alerts, recon, reconSchedule, health: health.health, router,
    /** Once, however often it is asked (a signal, then a test's own stop). */
    stop() {
      stopping ??= shutDown();
      return stopping;
    },
  };
}

/**
 * How long a stopping instance lets requests in flight finish before it cuts them: a pay failing
 * over runs up to three channel calls of 10 s. Cut at once, a caller lost the answer to work that
 * went on (an order created, a refund sent) and its retry met it as a conflict or a duplicate.
 */
export const shutdown_drain_ms = 30_000;

/** Stops taking connections, lets the requests in flight be answered (at most shutdown_drain_ms), then closes the rest. */
async function drained(server: ReturnType<typeof Bun.serve>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([server.stop(), new Promise((resolve) => (timer = setTimeout(resolve, shutdown_drain_ms)))]);
  clearTimeout(timer);
  await server.stop(true);
}
