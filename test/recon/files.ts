/**
 * Statement files written the way a provider writes them, for tests that read or upload one:
 * WeChat Pay's trade bill, every field behind a backtick, ending in its two summary lines.
 */
export const wechatHeader = ['交易时间', '公众账号ID', '商户号', '特约商户号', '设备号', '微信订单号', '商户订单号', '用户标识', '交易类型', '交易状态', '付款银行', '货币种类', '应结订单金额', '代金券金额', '微信退款单号', '商户退款单号', '退款金额', '充值券退款金额', '退款类型', '退款状态', '商品名称', '商户数据包', '手续费', '费率', '订单金额', '申请退款金额', '费率备注'];

export function wechatCsv(lines: Array<Record<string, string>>, header = wechatHeader, summary = true): string {
  const tick = (values: string[]) => values.map((v) => `\`${v}`).join(',');
  return [
    header.join(','), ...lines.map((l) => tick(header.map((name) => l[name] ?? ''))),
    ...(summary ? ['总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额', tick(['2', '100.00', '30.00', '0.00', '0.42000', '100.00', '30.00'])] : []),
  ].join('\r\n') + '\r\n';
}
