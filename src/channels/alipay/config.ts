/** An Alipay channel's config, as operators give it; the private key is a Secret once parsed. */
import * as v from 'valibot';
import { httpUrl, pem, secret, text } from '../config-fields.ts';

export const alipay_config = v.strictObject({
  app_id: text(32),
  private_key: secret(pem),
  alipay_public_key: pem,
  gateway_url: httpUrl,
  /** When set, a notify must name this seller (the merchant's Alipay account id). */
  seller_id: v.optional(text(32)),
});

export type AlipayConfig = v.InferInput<typeof alipay_config>;
export type AlipaySettings = v.InferOutput<typeof alipay_config>;
