/** Alipay (支付宝 open platform, RSA2) as a paycenter plug-in. */
import { definePlugin, plainTextAnswer } from '../plugin.ts';
import { AlipayAdapter } from './adapter.ts';
import { alipay_config } from './config.ts';
import { alipay_currencies } from './transformers.ts';

export const alipay = definePlugin({
  provider: 'alipay',
  methods: [
    { name: 'alipay_qr', label: { zh: '支付宝扫码', en: 'Alipay QR' } },
    { name: 'alipay_page', label: { zh: '支付宝网页支付', en: 'Alipay web' }, signedHere: true },
  ],
  currencies: alipay_currencies,
  config: alipay_config,
  secrets: ['private_key'],
  adapter: (config, options) => new AlipayAdapter(config, options),
  // Alipay stops retrying only on the plain text `success`.
  answerCallback: plainTextAnswer('success', 'failure'),
  sandbox: { code: 'alipay_sandbox', provision: '/alipay/apps', urlField: 'gateway_url', urlPath: '/alipay/gateway.do' },
});
