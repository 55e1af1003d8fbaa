/** A WeChat Pay v3 channel's config, as operators give it; the merchant key and the APIv3 key are Secrets once parsed. */
import * as v from 'valibot';
import { httpUrl, pem, secret, text } from '../config-fields.ts';
import type { Platform } from './signing.ts';

export const wechatpay_config = v.strictObject({
  mchid: text(32),
  appid: text(32),
  serial_no: text(64),
  private_key: secret(pem),
  apiv3_key: secret(v.pipe(v.string(), v.length(32, 'must be 32 characters'))),
  platform_serial: text(64),
  platform_public_key: pem,
  /**
   * While WeChat Pay rotates its platform certificate it signs with either one: the next
   * certificate's serial and public key, given together, are accepted beside the current ones.
   */
  next_platform_serial: v.optional(text(64)),
  next_platform_public_key: v.optional(pem),
  base_url: v.optional(httpUrl, 'https://api.mch.weixin.qq.com'),
});

export type WechatpayConfig = v.InferInput<typeof wechatpay_config>;
export type WechatpaySettings = v.InferOutput<typeof wechatpay_config>;

/** The platform certificates whose signatures are accepted, by serial: the current one, and the next during a rotation. */
export function platformKeys(config: WechatpaySettings): Platform[] {
  const current = { serial: config.platform_serial, publicKey: config.platform_public_key };
  const { next_platform_serial: serial, next_platform_public_key: publicKey } = config;
  return serial === undefined || publicKey === undefined ? [current] : [current, { serial, publicKey }];
}

/** What the schema cannot say: the next certificate's serial and key come together, and differ from the current. */
export function rotationProblem(config: WechatpaySettings): { field: string; message: string } | null {
  const { next_platform_serial: serial, next_platform_public_key: publicKey } = config;
  if ((serial === undefined) !== (publicKey === undefined)) {
    return { field: `config.${serial === undefined ? 'next_platform_serial' : 'next_platform_public_key'}`, message: 'is required with the other next_platform_ field' };
  }
  return serial === config.platform_serial ? { field: 'config.next_platform_serial', message: 'must differ from platform_serial' } : null;
}
