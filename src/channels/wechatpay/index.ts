/** WeChat Pay API v3 (微信支付) as a paycenter plug-in. */
import { definePlugin } from '../plugin.ts';
import { WechatpayAdapter } from './adapter.ts';
import { rotationProblem, wechatpay_config } from './config.ts';
import { wechatpay_currencies } from './transformers.ts';

export const wechatpay = definePlugin({
  provider: 'wechatpay',
  methods: [
    { name: 'wechat_native', label: { zh: '微信扫码', en: 'WeChat Pay QR' } },
    { name: 'wechat_jsapi', label: { zh: '微信内支付', en: 'WeChat Pay (in WeChat)' } },
  ],
  currencies: wechatpay_currencies,
  config: wechatpay_config,
  secrets: ['private_key', 'apiv3_key'],
  adapter: (config, options) => new WechatpayAdapter(config, options),
  check: rotationProblem,
  // WeChat Pay stops retrying on 200/204; a refusal carries {"code":"FAIL"}.
  answerCallback: (accepted, reason = 'not accepted') => accepted
    ? { status: 204, contentType: 'application/json', body: '' }
    : { status: 400, contentType: 'application/json', body: JSON.stringify({ code: 'FAIL', message: reason }) },
  sandbox: { code: 'wechat_sandbox', provision: '/wechatpay/merchants', urlField: 'base_url', urlPath: '/wechatpay' },
});
