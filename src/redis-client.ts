/**
 * How paycenter connects to Redis (locks, the timer index, health and breakers, risk).
 *
 * Auto-pipelining: the commands a tick issues (per-order locks, nonces, health, the ticker's
 * index; risk's counters have a connection of their own, src/risk/open.ts) go out in one socket
 * write instead of one each, which was a fifth of the event loop's time on Postgres + Redis
 * (bench lifecycle's profile). Subscriptions are never pipelined.
 */
import Redis from 'ioredis';

/**
 * A command with no answer in this long fails, as Redis failing: a server that stops answering
 * without closing its connections (a failover's old master, a frozen host) would otherwise hold
 * an order's lock request, the ticker and the effect runner for as long as TCP takes to give up
 * — minutes. Every command paycenter sends is short (no blocking commands).
 */
export const redis_command_timeout_ms = 2_000;

export const redisClient = (url: string): Redis =>
  new Redis(url, { maxRetriesPerRequest: 2, protocol: 2, enableAutoPipelining: true, commandTimeout: redis_command_timeout_ms } as never);
