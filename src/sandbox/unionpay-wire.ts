// UnionPay ACP 5.1.0 on the wire, from UnionPay's SDK demos (Java/PHP `acpsdk`):
// - signMethod 01: the fields sorted by name, `signature` and empty values dropped, joined as
//   `k=v&…`; the **lowercase hex SHA-256 of that string** is what SHA256withRSA signs (the
//   digest's hex characters, not the string itself), base64.
// - Requests are form posts. Synchronous answers are a raw `k=v&k=v` body, NOT URL-encoded:
//   the SDKs split it themselves (`SDKUtil.convertResultStringToMap`), so the base64 `+` and
//   the PEM's newlines in `signPubKeyCert` arrive as they are. Notifies are ordinary
//   URL-encoded form posts.
// - Times are `yyyyMMddHHmmss` in Beijing time; amounts are fen without a decimal point.
import { createHash } from 'node:crypto';
import { rsaSign, rsaVerify } from './crypto.ts';

export type Fields = Record<string, string>;

export const ACP_VERSION = '5.1.0';

/** The string both sides digest: sorted `k=v&…` without `signature` and empty values. */
export function signString(fields: Fields): string {
  return Object.keys(fields)
    .filter((k) => k !== 'signature' && fields[k] !== undefined && fields[k] !== '')
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&');
}

function digestHex(fields: Fields): string {
  return createHash('sha256').update(signString(fields), 'utf8').digest('hex');
}

export function acpSign(fields: Fields, privateKeyPem: string): string {
  return rsaSign(digestHex(fields), privateKeyPem);
}

/** False for a wrong, missing or malformed signature, and for a certificate that is not one. */
export function acpVerify(fields: Fields, certPem: string): boolean {
  const signature = fields.signature;
  return signature ? rsaVerify(digestHex(fields), signature, certPem) : false;
}

/** The raw `k=v&…` answer body, keys sorted for readability (the order carries no meaning). */
export function rawAnswer(fields: Fields): string {
  return Object.keys(fields)
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&');
}

const CST_OFFSET_MS = 8 * 3600 * 1000;

/** `yyyyMMddHHmmss` in Beijing time. */
export function acpTime(ms: number): string {
  return new Date(ms + CST_OFFSET_MS).toISOString().slice(0, 19).replace(/[-T:]/g, '');
}

/** Parses `yyyyMMddHHmmss` (Beijing time); undefined unless a real calendar time. */
export function parseAcpTime(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text);
  if (!m) return undefined;
  const iso = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`;
  const ms = Date.parse(iso);
  // Date.parse rolls 20260231 over to March; a round trip catches it.
  return Number.isNaN(ms) || acpTime(ms) !== text ? undefined : ms;
}

/** The Beijing day `MMdd` — UnionPay's settleDate. */
export function settleDate(ms: number): string {
  return acpTime(ms).slice(4, 8);
}

/** An auto-submitting form, the way UnionPay's front gateway hands the payer back to `frontUrl`. */
export function autoPostForm(action: string, fields: Fields, escape: (s: string) => string): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`)
    .join('\n');
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>银联在线支付</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="${escape(action)}">
${inputs}
<noscript><button type="submit">返回商户 Return to merchant</button></noscript></form></body></html>`;
}
