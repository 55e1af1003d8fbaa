/**
 * Channels' asynchronous callbacks (API.md "Routes for channels"). A callback for a channel that
 * exists, within the intake limits (callback-intake.ts), has its raw body and headers written to
 * the callback log before anything else, whatever happens next; one for no channel is refused
 * unread and unrecorded. A callback that
 * verifies becomes a `flow.report` for its order's actor and is answered as its provider wants
 * only once that event committed; one that does not verify changes nothing and is refused the
 * provider's way, so the provider knows. Duplicates are harmless: the actor ignores a report it
 * already applied.
 */
import { type Context, Hono } from 'hono';
import type { DurableCommitter } from '../../../actors/durable-commit.ts';
import type { Engine } from '../../../actors/engine.ts';
import { tradeEvent } from '../../../actors/effect-runner.ts';
import type { CallbackAnswer } from '../../channels/adapter.ts';
import type { ChannelPlugin } from '../../channels/plugin.ts';
import { channel_plugins } from '../../channels/plugins.ts';
import type { Channel, ChannelRegistry } from '../../channels/registry.ts';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import type { Logger } from '../../log.ts';
import type { CallbackOutcome, CallbackRow, Store } from '../../store/store.ts';
import { readAtMost } from '../../bounded-body.ts';
import { type CallbackIntake, type CallbackRefusal, keptPrefixOf, refused_body_bytes_max } from '../callback-intake.ts';
import { providerRefusal as refusalAnswer } from '../answers.ts';
import { describeIn, jsonAnswer, noContent } from '../openapi.ts';

export type CallbackDeps = {
  store: Store; committer: DurableCommitter; engine: Engine; channels: ChannelRegistry; clock: Clock; log: Logger;
  intake: CallbackIntake;
  /** The caller's address, which the per-address limit counts (behind trusted proxies, the forwarded one). */
  addressOf: (c: Context) => string;
  /** Told of each callback refused before or at verification (a metric). */
  onRefused: (reason: CallbackRefusal) => void;
};

/** Bounds on how much of a caller's URL a refusal repeats, and on a recorded outcome. */
const provider_chars_max = 32;
const channel_code_chars_max = 64;
const outcome_chars_max = 500;
/**
 * A provider's notify is a few KB; the merchant API's 64 KiB limit (app.ts) does not apply here,
 * because a callback must be recorded and refused the provider's way, never with our error body.
 */
export const callback_body_bytes_max = 256 * 1024;

/** Headers kept with the raw record: every one the provider sent, names lower-cased. */
const headersOf = (headers: Headers): Record<string, string> => Object.fromEntries([...headers.entries()]);

const respond = (answer: CallbackAnswer) =>
  new Response(answer.body === '' ? null : answer.body, { status: answer.status, headers: { 'content-type': answer.contentType } });

/**
 * A refusal with this status in the provider's own format (Alipay: `failure`; WeChat Pay:
 * `{"code":"FAIL"}`). Without a plug-in — the route found no channel by that code, or failed
 * before it did — the FAIL JSON, which every provider reads as "not taken" (Alipay retries
 * anything but `success`). A 5xx makes providers retry. Admission control (admission.ts) sheds
 * callbacks with it too.
 */
export const providerRefusal = (plugin: ChannelPlugin | null, status: number, reason: string) =>
  respond(plugin
    ? { ...plugin.answerCallback(false, reason), status }
    : { status, contentType: 'application/json', body: JSON.stringify({ code: 'FAIL', message: reason }) });

const refusal = (channel: Channel | null, status: number, reason: string) => providerRefusal(channel?.plugin ?? null, status, reason);

/** The providers whose channels call back (paycenter serves the balance itself). */
const calling_back = channel_plugins.filter((p) => p.external);

/** The answers that tell each provider its callback was taken, from its plug-in: the document cannot differ from them. */
function takenAnswers() {
  const taken = calling_back.map((plugin) => ({ provider: plugin.provider, ...plugin.answerCallback(true) }));
  return Object.fromEntries([...new Set(taken.map((t) => t.status))].map((status) => {
    const these = taken.filter((t) => t.status === status);
    const said = these.map((t) => (t.body === '' ? t.provider : `${t.provider} "${t.body}"`)).join(', ');
    const media = [...new Set(these.filter((t) => t.body !== '').map((t) => t.contentType.split(';')[0]!))];
    if (media.length === 0) return [status, noContent(`Recorded and taken: ${said}.`)];
    return [status, { description: `Recorded and taken; the body is the provider's word: ${said}.`, content: Object.fromEntries(media.map((m) => [m, { schema: { type: 'string' } }])) }];
  }));
}

/** A refusal, in the provider's own format: its word in text (Alipay, UnionPay), else WeChat Pay's JSON. */
const refused = (description: string) => ({
  description, content: { 'text/plain': { schema: { type: 'string' as const } }, ...jsonAnswer(refusalAnswer, description).content },
});

const callbackDoc = describeIn('callbacks', {
  summary: 'A payment channel\'s asynchronous notify, recorded raw before anything else and answered the provider\'s way',
  parameters: [{ in: 'path', name: 'provider', required: true, schema: { type: 'string', enum: calling_back.map((p) => p.provider) } }],
  requestBody: {
    required: true, description: `The notify as the provider sends it (Alipay and UnionPay form-encoded, WeChat Pay JSON), at most ${callback_body_bytes_max} bytes.`,
    content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', additionalProperties: { type: 'string' } } }, 'application/json': { schema: { type: 'object' } } },
  },
  responses: {
    ...takenAnswers(),
    '4XX': refused('Refused (not verified, no such channel, too large, too many): the provider sends it again later.'),
    '5XX': refused('Not processed (paycenter busy or failing): the provider retries.'),
  },
});

export function callbackRoutes(deps: CallbackDeps): Hono {
  const app = new Hono();

  /** Verifies a recorded callback and hands what it reports to its order's actor. */
  async function settle(channel: Channel, record: CallbackRow): Promise<Response> {
    const recordOutcome = (update: Omit<CallbackOutcome, 'callbackId'>) => deps.committer.recordCallbackOutcome({ callbackId: record.id, ...update });
    const code = channel.row.code;
    const verdict = await channel.adapter.verifyCallback({ headers: record.headers, body: record.body, now: deps.clock.now() });
    if (!verdict.ok) {
      deps.log.warn('callback refused', { callback_id: record.id, channel: code, reason: verdict.reason });
      deps.onRefused('not_verified');
      // Anyone can send one: only its first bytes are kept, so refusals cannot fill the log.
      const kept = keptPrefixOf(record.body);
      if (kept.note) await deps.store.keepCallbackPrefix(record.id, kept.body);
      const note = kept.note ? ` (${kept.note})` : '';
      const outcome = `refused: ${verdict.reason}`.slice(0, outcome_chars_max - note.length) + note;
      await recordOutcome({ verified: false, orderId: null, flowId: null, outcome });
      return respond(channel.plugin.answerCallback(false, verdict.reason));
    }

    if ('acknowledged' in verdict) {
      await recordOutcome({ verified: true, orderId: null, flowId: null, outcome: `acknowledged: ${verdict.acknowledged}`.slice(0, outcome_chars_max) });
      return respond(channel.plugin.answerCallback(true));
    }
    const flowId = verdict.trade.flowId;
    // A flow this process committed (its prepay) is known here; its order and channel never change.
    const flow = deps.engine.recentFlow(flowId) ?? (await deps.store.loadFlow(flowId));
    if (!flow || flow.channel !== code) {
      // Signed by the channel, so real: money paycenter knows nothing of. Kept and alerted,
      // and acknowledged — refusing would only make the channel repeat it for a day.
      deps.log.error('verified callback for an unknown flow', { callback_id: record.id, channel: code, flow_id: flowId });
      await recordOutcome({ verified: true, orderId: null, flowId, outcome: 'unknown_flow' });
      return respond(channel.plugin.answerCallback(true));
    }
    const result = await deps.engine.dispatch(flow.orderId, tradeEvent(verdict.trade, deps.clock.now(), 'callback'));
    await recordOutcome({ verified: true, orderId: flow.orderId, flowId, outcome: result.outcome });
    return respond(channel.plugin.answerCallback(true));
  }

  app.post('/:provider/:channel_code', callbackDoc, async (c) => {
    const { provider, channel_code: code } = c.req.param();
    const now = deps.clock.now();
    if (!(await deps.intake.takeAddress(deps.addressOf(c), now))) {
      deps.onRefused('address_rate_limited');
      return refusal(null, 429, 'too many callbacks from this address; retry later');
    }
    let channel: Channel | null = null;
    try {
      const found = await deps.channels.get(code);
      channel = found && found.row.provider === provider ? found : null;
      if (!channel) {
        deps.onRefused('unknown_channel');
        return refusal(null, 404, `no ${provider.slice(0, provider_chars_max)} channel ${code.slice(0, channel_code_chars_max)}`);
      }
      if (!(await deps.intake.takeChannel(channel.row.code, now))) {
        deps.onRefused('channel_rate_limited');
        return refusal(channel, 429, 'too many callbacks for this channel; retry later');
      }
      const received = await readAtMost(c.req.raw.body, callback_body_bytes_max);
      const record: CallbackRow = {
        id: newId('cbk', now), provider: channel.row.provider, channelCode: channel.row.code,
        headers: headersOf(c.req.raw.headers), body: new TextDecoder().decode(received.bytes), receivedAt: now,
        verified: null, orderId: null, flowId: null, outcome: null,
      };
      if (received.truncated) {
        // Too large to be a notify: kept as a refused one is (its first bytes), never read further.
        deps.onRefused('too_large');
        await deps.committer.recordCallback({
          ...record, body: keptPrefixOf(record.body).body, verified: false,
          outcome: `refused: body over ${callback_body_bytes_max} bytes (body kept truncated: first ${refused_body_bytes_max} bytes)`,
        });
        return refusal(channel, 413, `body over ${callback_body_bytes_max} bytes`);
      }
      if (record.body.includes('\0')) {
        // No provider sends a raw NUL (its formats escape it), and no text column may hold one:
        // kept with each as the six characters \u0000, refused without being read further.
        deps.onRefused('nul_byte');
        await deps.committer.recordCallback({ ...record, body: record.body.replaceAll('\0', '\\u0000'), verified: false, outcome: 'refused: the body holds NUL (U+0000), kept as \\u0000' });
        return refusal(channel, 400, 'body holds a NUL character');
      }
      await deps.committer.recordCallback(record);
      return await settle(channel, record);
    } catch (error) {
      // Never the merchant API's error body: the provider is answered its way, and a 5xx makes it retry.
      deps.log.error('callback failed', { provider, channel: code, error: String(error), stack: (error as Error)?.stack });
      return refusal(channel, 500, 'not processed; retry later');
    }
  });

  return app;
}
