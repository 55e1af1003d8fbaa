/**
 * Request schemas (valibot). The routes validate with these and the OpenAPI document is
 * generated from them, so the document cannot drift from what is enforced. Every string has
 * a length limit; unknown fields are refused (strict objects).
 */
import { toJsonSchema } from '@valibot/to-json-schema';
import { fee_rate_decimals_max, isFeeRate, routingStrategies } from '../routing/strategies.ts';
import * as v from 'valibot';
import { all_methods } from '../merchants/directory.ts';
import { balance_channel } from '../balance/order-entries.ts';
import { httpUrl } from '../channels/config-fields.ts';
import type { ChannelPlugin } from '../channels/plugin.ts';
import { channel_plugins, pluginOf, provider_names } from '../channels/plugins.ts';
import { type Currency, amount_pattern, currencies } from '../money.ts';
import { pageLimit } from './validate.ts';

const orderNumber = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 characters of A-Z a-z 0-9 _ -'));

const text = (max: number) => v.pipe(v.string(), v.maxLength(max, `must be at most ${max} characters`));
const optionalText = (max: number) => v.optional(v.nullable(text(max)), null);

/** The longest amount read at all: a longer one is invalid_request before any parsing. */
const amount_chars_max = 32;

/**
 * Amounts travel as decimal strings. Their digits are checked against the currency afterwards
 * (parseAmount), so that a bad one is 400 invalid_amount as API.md says: the pattern is for the
 * document only — checked here, it would turn invalid_amount into invalid_request.
 */
export const amount = v.pipe(
  v.string(),
  v.maxLength(amount_chars_max, `must be at most ${amount_chars_max} characters`),
  v.metadata({
    pattern: amount_pattern,
    description: 'A decimal string in major units with exactly the currency\'s minor digits ("100.00" CNY, "1500" JPY), '
      + 'greater than zero and at most 100000000.00; anything else is 400 invalid_amount.',
    examples: ['100.00'],
  }),
);

export const metadata_bytes_max = 4_096;
const metadata = v.pipe(
  v.custom<Record<string, unknown>>((m) => typeof m === 'object' && m !== null && !Array.isArray(m), 'must be an object'),
  v.record(v.pipe(v.string(), v.maxLength(64)), v.unknown()),
  v.check((m) => JSON.stringify(m).length <= metadata_bytes_max, `must be at most ${metadata_bytes_max} bytes as JSON`),
);

export const method = v.pipe(v.string(), v.maxLength(32, 'must be at most 32 characters'));

export const pay_parts_max = 5;
const payPart = v.strictObject({ method, amount });

export const payRequest = v.union(
  [v.strictObject({ method }), v.strictObject({ parts: v.pipe(v.array(payPart), v.minLength(1), v.maxLength(pay_parts_max)) })],
  'must have either method or parts',
);

export const createPayment = v.strictObject({
  merchant_order_no: orderNumber,
  amount,
  currency: v.optional(v.picklist(currencies, `must be one of ${currencies.join(', ')}`), 'CNY'),
  subject: v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(128, 'must be at most 128 characters')),
  body: optionalText(512),
  notify_url: v.optional(v.nullable(httpUrl), null),
  return_url: v.optional(v.nullable(httpUrl), null),
  expire_seconds: v.optional(v.pipe(v.number(), v.integer('must be a whole number'), v.minValue(60, 'must be at least 60'), v.maxValue(86_400, 'must be at most 86400')), 1_800),
  user_id: optionalText(64),
  client_ip: optionalText(64),
  device_id: optionalText(128),
  metadata: v.optional(metadata, {}),
  method: v.optional(method),
});

export const createRefund = v.strictObject({
  refund_no: orderNumber,
  amount,
  reason: optionalText(256),
});

export const eventsQuery = v.strictObject({
  after: v.optional(v.pipe(v.string(), v.regex(/^evt_[0-9A-Z]{26}$/, 'must be an event id'))),
  limit: pageLimit(100, 100),
});

export const paymentsQuery = v.strictObject({ merchant_order_no: orderNumber });

const methodList = v.pipe(v.array(v.picklist(all_methods, `must be one of ${all_methods.join(', ')}`)), v.maxLength(all_methods.length), v.check((l) => new Set(l).size === l.length, 'must not repeat a method'));

export const createMerchant = v.strictObject({
  merchant_id: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1–32 characters of A-Z a-z 0-9 _ -'))),
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  notify_url: v.optional(v.nullable(httpUrl)),
  methods: v.optional(methodList),
  routing: v.optional(v.picklist(routingStrategies)),
});

export const updateMerchant = v.strictObject({
  name: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))),
  notify_url: v.optional(v.nullable(httpUrl)),
  methods: v.optional(methodList),
  status: v.optional(v.picklist(['enabled', 'disabled'])),
  routing: v.optional(v.picklist(routingStrategies)),
});

/** A channel's fee as a decimal share of the amount, 0 to 1 ("0.0060"). */
const feeRate = v.pipe(v.string(), v.check(isFeeRate, `must be a decimal from 0 to 1 with at most ${fee_rate_decimals_max} digits after the point, like "0.0060"`));

/** The currencies a provider's channels can serve: an external provider's are those its transformers convert. */
const currenciesOf = (provider: string): readonly Currency[] => pluginOf(provider)?.currencies ?? [];

export const servesCurrencies = (provider: string, listed: readonly Currency[]) => listed.every((c) => currenciesOf(provider).includes(c));

/** What `currencies` is told (after the field name) when its provider cannot serve them. */
export const unservedCurrenciesMessage = (provider: string) => `must be among ${currenciesOf(provider).join(', ')} for provider ${provider}`;

/** A provider's config schema as JSON Schema, its secret fields write-only (answers show them as [redacted]). */
function configDocument(plugin: ChannelPlugin) {
  const { $schema: _, ...schema } = toJsonSchema(plugin.configSchema, { errorMode: 'ignore' });
  const properties = Object.fromEntries(Object.entries(schema.properties ?? {}).map(([name, property]) =>
    [name, plugin.secretFields.includes(name) && typeof property === 'object' ? { ...property, writeOnly: true } : property]));
  return { ...schema, title: plugin.provider, properties };
}

/**
 * A channel's `config`: in the OpenAPI document, one of the providers' config schemas. The admin
 * route validates it with the provider's own schema (`readConfig`), naming the field inside it.
 */
const channelConfig = v.pipe(
  v.record(v.string(), v.unknown()),
  v.metadata({ description: 'the config of the channel\'s provider', anyOf: channel_plugins.map(configDocument) }),
);

export const createChannel = v.pipe(v.strictObject({
  // `balance` names the payer balance's own flows (their effects go to the ledger, not a channel).
  code: v.pipe(v.string(), v.regex(/^[a-z0-9_]{1,32}$/, 'must be 1–32 characters of a-z 0-9 _'), v.check((code) => code !== balance_channel, 'balance is the payer balance\'s own')),
  provider: v.picklist(provider_names, `must be one of ${provider_names.join(', ')}`),
  methods: v.pipe(v.array(method), v.minLength(1), v.maxLength(16)),
  currencies: v.optional(v.pipe(v.array(v.picklist(currencies)), v.minLength(1)), ['CNY']),
  weight: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10_000)), 100),
  single_limit: v.optional(v.nullable(amount), null),
  daily_limit: v.optional(v.nullable(amount), null),
  status: v.optional(v.picklist(['enabled', 'disabled']), 'enabled'),
  config: channelConfig,
  fee_rate: v.optional(feeRate, '0'),
}), v.forward(v.check(
  // Refused here: a currency the provider's transformers cannot convert would only fail at the first payment.
  (channel) => servesCurrencies(channel.provider, channel.currencies),
  (issue) => unservedCurrenciesMessage(issue.input.provider),
), ['currencies']));

export const updateChannel = v.strictObject({
  methods: v.optional(v.pipe(v.array(method), v.minLength(1), v.maxLength(16))),
  currencies: v.optional(v.pipe(v.array(v.picklist(currencies)), v.minLength(1))),
  weight: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10_000))),
  single_limit: v.optional(v.nullable(amount)),
  daily_limit: v.optional(v.nullable(amount)),
  status: v.optional(v.picklist(['enabled', 'disabled'])),
  config: v.optional(channelConfig),
  fee_rate: v.optional(feeRate),
});
