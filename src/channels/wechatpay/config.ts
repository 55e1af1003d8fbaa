/** A WeChat Pay v3 channel's config, as operators give it; the merchant key and the APIv3 key are Secrets once parsed. */
import * as v from 'valibot';
import { httpUrl, pem, secret, text } from '../config-fields.ts';

export const wechatpay_config = v.strictObject({
  mchid: text(32),
  appid: text(32),
  serial_no: text(64),
  private_key: secret(pem),
  apiv3_key: secret(v.pipe(v.string(), v.length(32, 'must be 32 characters'))),
  platform_serial: text(64),
  platform_public_key: pem,
  base_url: v.optional(httpUrl, 'https://api.mch.weixin.qq.com'),
});

export type WechatpayConfig = v.InferInput<typeof wechatpay_config>;
export type WechatpaySettings = v.InferOutput<typeof wechatpay_config>;
