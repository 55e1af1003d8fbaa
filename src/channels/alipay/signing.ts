/**
 * Alipay's RSA2 rules: a request is signed over its parameters sorted by key, `k=v` joined with
 * `&`, empty values and `sign` left out; a notify the same way without `sign` and `sign_type`;
 * a gateway answer over the exact JSON text of its `…_response` member.
 */
import { rsaSign, rsaVerify } from '../rsa.ts';

export function signingText(params: Record<string, string>, excluded: readonly string[]): string {
  return Object.keys(params)
    .filter((key) => !excluded.includes(key) && params[key] !== '' && params[key] !== undefined)
    .sort()
    .map((key) => `${key}=${params[key]}`)
    .join('&');
}

export function signRequest(params: Record<string, string>, privateKey: string): string {
  return rsaSign(privateKey, signingText(params, ['sign']));
}

export function verifyNotify(params: Record<string, string>, alipayPublicKey: string): boolean {
  const sign = params.sign;
  return sign !== undefined && rsaVerify(alipayPublicKey, signingText(params, ['sign', 'sign_type']), sign);
}

/**
 * The signed member's exact text and the signature, cut out of the raw answer: re-serializing
 * parsed JSON would not reproduce the bytes Alipay signed. The answer is
 * `{"<method>_response":{…},"sign":"…"}` with the sign last.
 */
export function signedMember(raw: string, memberKey: string): { text: string; sign: string | null } | null {
  const start = raw.indexOf(`"${memberKey}"`);
  if (start < 0) return null;
  const valueStart = raw.indexOf('{', start);
  const signAt = raw.lastIndexOf(',"sign"');
  const valueEnd = signAt > valueStart ? signAt : raw.lastIndexOf('}');
  if (valueStart < 0 || valueEnd <= valueStart) return null;
  const text = raw.slice(valueStart, valueEnd).trim();
  if (signAt < 0) return { text, sign: null };
  const sign = /"sign"\s*:\s*"([^"]*)"/.exec(raw.slice(signAt))?.[1] ?? null;
  return { text, sign };
}

export function verifyAnswer(text: string, sign: string, alipayPublicKey: string): boolean {
  return rsaVerify(alipayPublicKey, text, sign);
}
