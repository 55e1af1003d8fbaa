/**
 * Channels' asynchronous callbacks (API.md "Routes for channels"). The raw body and headers are
 * written to the callback log before anything else, whatever happens next. A callback that
 * verifies becomes a `flow.report` for its order's actor and is answered as its provider wants
 * only once that event committed; one that does not verify changes nothing and is refused the
 * provider's way, so the provider knows. Duplicates are harmless: the actor ignores a report it
 * already applied.
 */
import { Hono } from 'hono';
import type { Engine } from '../../../actors/engine.ts';
import { tradeEvent } from '../../../actors/effect-runner.ts';
import type { CallbackAnswer } from '../../channels/adapter.ts';
import type { ChannelRegistry } from '../../channels/registry.ts';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import type { Logger } from '../../log.ts';
import type { CallbackRow, Store } from '../../store/store.ts';

export type CallbackDeps = { store: Store; engine: Engine; channels: ChannelRegistry; clock: Clock; log: Logger };

/** Bounds on what a caller's URL and a refusal's reason may put in the callback log. */
const provider_chars_max = 32;
const channel_code_chars_max = 64;
const outcome_chars_max = 500;

/** Headers kept with the raw record: every one the provider sent, names lower-cased. */
const headersOf = (headers: Headers): Record<string, string> => Object.fromEntries([...headers.entries()]);

const respond = (answer: CallbackAnswer) =>
  new Response(answer.body === '' ? null : answer.body, { status: answer.status, headers: { 'content-type': answer.contentType } });

/** A refusal before any adapter could be found: providers retry on any non-2xx. */
const unknownChannel = (reason: string) =>
  new Response(JSON.stringify({ code: 'FAIL', message: reason }), { status: 404, headers: { 'content-type': 'application/json' } });

export function callbackRoutes(deps: CallbackDeps): Hono {
  const app = new Hono();

  app.post('/:provider/:code', async (c) => {
    const { provider, code } = c.req.param();
    const record: CallbackRow = {
      id: newId('cbk', deps.clock.now()), provider: provider.slice(0, provider_chars_max), channelCode: code.slice(0, channel_code_chars_max),
      headers: headersOf(c.req.raw.headers), body: await c.req.text(), receivedAt: deps.clock.now(),
      verified: null, orderId: null, flowId: null, outcome: null,
    };
    await deps.store.insertCallback(record);
    const recordOutcome = (update: Pick<CallbackRow, 'verified' | 'orderId' | 'flowId' | 'outcome'>) => deps.store.updateCallback(record.id, update);

    const channel = await deps.channels.get(code);
    if (!channel || channel.row.provider !== provider) {
      await recordOutcome({ verified: null, orderId: null, flowId: null, outcome: 'unknown_channel' });
      return unknownChannel(`no ${provider} channel ${code}`);
    }
    const verdict = await channel.adapter.verifyCallback({ headers: record.headers, body: record.body, now: deps.clock.now() });
    if (!verdict.ok) {
      deps.log.warn('callback refused', { callback_id: record.id, channel: code, reason: verdict.reason });
      await recordOutcome({ verified: false, orderId: null, flowId: null, outcome: `refused: ${verdict.reason}`.slice(0, outcome_chars_max) });
      return respond(channel.adapter.answerCallback(false, verdict.reason));
    }

    const flowId = verdict.trade.flowId;
    const flow = await deps.store.loadFlow(flowId);
    if (!flow || flow.channel !== code) {
      // Signed by the channel, so real: money paycenter knows nothing of. Kept and alerted,
      // and acknowledged — refusing would only make the channel repeat it for a day.
      deps.log.error('verified callback for an unknown flow', { callback_id: record.id, channel: code, flow_id: flowId });
      await recordOutcome({ verified: true, orderId: null, flowId, outcome: 'unknown_flow' });
      return respond(channel.adapter.answerCallback(true));
    }
    const result = await deps.engine.dispatch(flow.orderId, tradeEvent(verdict.trade, deps.clock.now(), 'callback'));
    await recordOutcome({ verified: true, orderId: flow.orderId, flowId, outcome: result.outcome });
    return respond(channel.adapter.answerCallback(true));
  });

  return app;
}
