/**
 * The payer's prepaid balance: a provider paycenter serves itself (its ledger, not a channel
 * call), so it has no adapter, no callbacks and nothing to configure. It has no button of its
 * own: the cashier offers the balance itself, to a payer the order names (its user_id), alone
 * or beside a channel.
 */
import * as v from 'valibot';
import { currencies } from '../../money.ts';
import { definePlugin } from '../plugin.ts';

export const balance = definePlugin({
  provider: 'balance',
  methods: [{ name: 'balance', label: null }],
  currencies,
  config: v.strictObject({}),
  secrets: [],
  adapter: null,
  answerCallback: (accepted, reason = 'not accepted') => ({ status: accepted ? 200 : 400, contentType: 'application/json', body: JSON.stringify(accepted ? {} : { code: 'FAIL', message: reason }) }),
});
