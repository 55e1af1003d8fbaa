/**
 * A UnionPay (银联全渠道, ACP 5.1.0) channel's config, as operators give it (API.md): the
 * merchant number, the signing certificate as a base64 PKCS#12 file with its password (both
 * Secrets once parsed), UnionPay's root and middle certificates that its signing certificates
 * must chain to, and the gateway.
 */
import * as v from 'valibot';
import { httpUrl, pem, secret, text } from '../config-fields.ts';

/** A PKCS#12 file of one key and its certificate is a few KB; base64 adds a third. */
const pfx_base64_chars_max = 32_768;

export const unionpay_config = v.strictObject({
  mer_id: v.pipe(v.string(), v.regex(/^[0-9A-Za-z]{15}$/, 'must be the 15-character UnionPay merchant number')),
  sign_cert_pfx: secret(v.pipe(v.string(), v.maxLength(pfx_base64_chars_max), v.regex(/^[A-Za-z0-9+/=\s]+$/, 'must be the PKCS#12 file in base64'))),
  sign_cert_password: secret(text(128)),
  root_cert: pem,
  middle_cert: pem,
  gateway_url: v.optional(httpUrl, 'https://gateway.95516.com'),
  /** false only for test certificates, whose subject does not name China UnionPay. */
  validate_cn: v.optional(v.boolean(), true),
});

export type UnionpayConfig = v.InferInput<typeof unionpay_config>;
export type UnionpaySettings = v.InferOutput<typeof unionpay_config>;
