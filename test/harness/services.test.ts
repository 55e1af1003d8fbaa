/**
 * The harness's own check: the servers it started answer, and Postgres commits durably
 * (durability is part of what the suite tests, so a harness that quietly turned it off
 * would make those tests meaningless).
 */
import { expect, test } from 'bun:test';
import { SQL } from 'bun';
import Redis from 'ioredis';

test('Postgres answers select 1 and commits durably (fsync and synchronous_commit on)', async () => {
  const sql = new SQL({ url: process.env.TEST_POSTGRES_URL!, max: 1 });
  try {
    const [row] = await sql`select 1 as one`;
    expect(row.one).toBe(1);
    const [commit] = await sql`show synchronous_commit`;
    expect(commit.synchronous_commit).toBe('on');
    const [fsync] = await sql`show fsync`;
    expect(fsync.fsync).toBe('on');
    const [listen] = await sql`show listen_addresses`;
    expect(listen.listen_addresses).toBe('127.0.0.1');
  } finally {
    await sql.close();
  }
});

test('Redis answers PING', async () => {
  const redis = new Redis(process.env.TEST_REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    expect(await redis.ping()).toBe('PONG');
  } finally {
    redis.disconnect();
  }
});

test('both servers listen on loopback only', () => {
  for (const url of [process.env.TEST_POSTGRES_URL!, process.env.TEST_REDIS_URL!]) {
    expect(new URL(url).hostname).toBe('127.0.0.1');
  }
});
