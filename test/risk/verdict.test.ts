/**
 * The payment object's `risk` after a pay, over real HTTP with the channel sandbox: a pay judges
 * again only the rules that need no counter, so what the create found in the counters stays on
 * the payment — the stronger decision, the union of the rules.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type World, bootWorld } from '../channels/world.ts';
import { adminCall } from '../http/harness.ts';

const reviewRule = (code: string, kind: string, params: object, score: number) => ({ code, kind, action: 'review', score, params });

describe('the risk verdict a pay leaves on the payment (sqlite)', () => {
  let world: World;
  beforeAll(async () => {
    world = await bootWorld('sqlite');
  }, 60_000);
  afterAll(() => world?.stop(), 60_000);

  test('a review the create found in a counter stays after a pay that counts nothing; a rule the pay adds joins it', async () => {
    const { merchant, url } = world;
    // A payer's second order of the day hits the counter at create (60 ≥ review_at 50); a pay never asks counters.
    await adminCall(url, 'POST', '/admin/risk/rules', reviewRule('second_today', 'limit', { subject: 'user', period: 'day', count: 1 }, 60));
    expect((await merchant.createPayment({ user_id: 'u-verdict' })).body.risk).toEqual({ decision: 'allow', score: 0, rules: [] });
    const flagged = await merchant.createPayment({ user_id: 'u-verdict' });
    expect(flagged.body.risk).toEqual({ decision: 'review', score: 60, rules: ['second_today'] });

    const paid = await merchant.call('POST', `/v1/payments/${flagged.body.id}/pay`, { method: 'alipay_qr' });
    expect(paid.status).toBe(200);
    expect((await merchant.call('GET', `/v1/payments/${flagged.body.id}`)).body.risk).toEqual({ decision: 'review', score: 60, rules: ['second_today'] });

    // A rule that needs no counter, added since the create, hits at the pay: its score and code join the create's.
    await adminCall(url, 'POST', '/admin/risk/rules', reviewRule('big_single', 'limit', { subject: 'user', period: 'single', amount: '50.00' }, 5));
    const again = await merchant.call('POST', `/v1/payments/${flagged.body.id}/pay`, { method: 'wechat_native' });
    expect(again.status).toBe(200);
    expect((await merchant.call('GET', `/v1/payments/${flagged.body.id}`)).body.risk).toEqual({ decision: 'review', score: 65, rules: ['second_today', 'big_single'] });
    // Flagged once: the pays that kept it under review raised no second alert.
    const alerts = (await adminCall(url, 'GET', '/admin/alerts?open=true')).body.data.filter((a: any) => a.kind === 'risk_review' && a.payment_id === flagged.body.id);
    expect(alerts).toHaveLength(1);
  }, 30_000);
});
