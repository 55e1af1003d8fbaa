/** UnionPay online payments (银联全渠道, ACP 5.1.0) as a paycenter plug-in. */
import { definePlugin, plainTextAnswer } from '../plugin.ts';
import { UnionpayAdapter } from './adapter.ts';
import { unionpay_config } from './config.ts';
import { openSigningCert, readCertificate } from './keys.ts';
import { unionpayPages } from './pages.ts';
import { unionpay_currencies } from './transformers.ts';

export const unionpay = definePlugin({
  provider: 'unionpay',
  methods: [
    { name: 'unionpay_web', label: { zh: '银联在线支付', en: 'UnionPay online' }, signedHere: true },
    { name: 'unionpay_qr', label: { zh: '银联扫码', en: 'UnionPay QR' } },
  ],
  currencies: unionpay_currencies,
  config: unionpay_config,
  secrets: ['sign_cert_pfx', 'sign_cert_password'],
  // The key file must open with its password and the certificates must read before a channel is saved.
  check: (config) => {
    for (const opened of [
      openSigningCert(config.sign_cert_pfx, config.sign_cert_password), readCertificate('root_cert', config.root_cert), readCertificate('middle_cert', config.middle_cert),
    ]) if (!opened.ok) return { field: opened.field, message: opened.message };
    return null;
  },
  adapter: (config, options) => new UnionpayAdapter(config, options),
  // UnionPay stops sending a notify once it is answered HTTP 200.
  answerCallback: plainTextAnswer('ok', 'fail'),
  pages: unionpayPages,
  // Statements are optional for UnionPay (issue #12); reconciliation covers Alipay and WeChat Pay first.
  statements: false,
  sandbox: { code: 'unionpay_sandbox', provision: '/unionpay/merchants', urlField: 'gateway_url', urlPath: '/unionpay' },
});
