/**
 * /readyz over HTTP: ready while the store and Redis answer; when Redis stops, 503 with the error
 * body every non-2xx answer has (API.md "Errors") and the checks that say which part is down.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Service, startRedis } from '../harness/services.ts';
import { type Booted, bootPaycenter } from '../http/harness.ts';

/** How long Redis's client takes at most to give up on a stopped server (two retries, then the ping fails). */
const redis_down_seen_ms = 10_000;

describe('readiness', () => {
  let redis: Service;
  let booted: Booted;
  beforeAll(async () => {
    redis = await startRedis();
    booted = await bootPaycenter('sqlite', { REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await booted?.stop();
    await redis?.stop();
  });

  test('ready while its parts answer; 503 with the error body and the checks when Redis is down', async () => {
    const ready = await fetch(`${booted.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { store: 'ok', redis0: 'ok' } });
    await redis.stop();
    let answer = await fetch(`${booted.url}/readyz`);
    for (const started = Date.now(); answer.status === 200 && Date.now() - started < redis_down_seen_ms; answer = await fetch(`${booted.url}/readyz`)) await Bun.sleep(100);
    expect(answer.status).toBe(503);
    const body: any = await answer.json();
    expect(body).toMatchObject({
      error: { code: 'unavailable', message: 'not ready: redis0 down', field: null, request_id: answer.headers.get('x-request-id') },
      status: 'unavailable', checks: { store: 'ok', redis0: 'down' },
    });
  }, 30_000);
});
