/** Every JSON answer says `application/json; charset=utf-8` (API.md "Conventions"): successes, errors and operations alike. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { type Answer, type Booted, MerchantClient, adminCall, answerOf, bootPaycenter } from './harness.ts';

const json_content_type = 'application/json; charset=utf-8';

let booted: Booted;
let merchant: MerchantClient;

beforeAll(async () => {
  booted = await bootPaycenter('sqlite');
  merchant = await MerchantClient.create(booted.url);
});

afterAll(async () => {
  await booted?.stop();
});

const get = async (path: string) => answerOf(await fetch(booted.url + path));

test('successes, errors, operations and the cashier all answer JSON with its charset', async () => {
  const created = await merchant.createPayment();
  const cashier = new URL(created.body.cashier_url);
  const answers: Array<[string, Answer]> = [
    ['a created payment', created],
    ['a found payment', await merchant.call('GET', `/v1/payments/${created.body.id}`)],
    ['a validation error', await merchant.createPayment({ amount: '1' })],
    ['an unsigned request', await merchant.call('GET', '/v1/events', undefined, { authorization: null })],
    ['an unknown route', await get('/nowhere')],
    ['an admin list', await adminCall(booted.url, 'GET', '/admin/channels')],
    ['an admin refusal', await adminCall(booted.url, 'GET', '/admin/channels', undefined, 'wrong')],
    ['/healthz', await get('/healthz')],
    ['/readyz', await get('/readyz')],
    ['/openapi.json', await get('/openapi.json')],
    ['the cashier status', await get(`${cashier.pathname}/status${cashier.search}`)],
    ['a cashier 404', await get(`${cashier.pathname}/status`)],
  ];
  for (const [name, answer] of answers) expect([name, answer.headers.get('content-type')]).toEqual([name, json_content_type]);
  expect(answers.map(([, a]) => a.status)).toEqual([201, 200, 400, 401, 404, 200, 401, 200, 200, 200, 200, 404]);
});
