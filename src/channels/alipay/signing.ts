/**
 * Alipay's RSA2 rules: a request is signed over its parameters sorted by key, `k=v` joined with
 * `&`, empty values and `sign` left out; a notify the same way without `sign` and `sign_type`;
 * a gateway answer over the exact JSON text of its `…_response` member.
 */
import { rsaSign, rsaVerify } from '../rsa.ts';

/**
 * Requests leave empty values out; notifies keep them (`body=`), as Alipay signs them and as
 * alipay-sdk's checkNotifySignV2 checks them.
 */
export function signingText(params: Record<string, string>, excluded: readonly string[], keepEmpty = false): string {
  return Object.keys(params)
    .filter((key) => !excluded.includes(key) && params[key] !== undefined && (keepEmpty || params[key] !== ''))
    .sort()
    .map((key) => `${key}=${params[key]}`)
    .join('&');
}

export function signRequest(params: Record<string, string>, privateKey: string): Promise<string> {
  return rsaSign(privateKey, signingText(params, ['sign']));
}

export async function verifyNotify(params: Record<string, string>, alipayPublicKey: string): Promise<boolean> {
  const sign = params.sign;
  return sign !== undefined && (await rsaVerify(alipayPublicKey, signingText(params, ['sign', 'sign_type'], true), sign));
}

/**
 * The signed member's exact text and the signature, cut out of the raw answer: re-serializing
 * parsed JSON would not reproduce the bytes Alipay signed. The member is found by matching its
 * braces (strings and escapes respected), so whatever follows it — `sign`, a certificate serial —
 * does not matter.
 */
export function signedMember(raw: string, memberKey: string): { text: string; sign: string | null } | null {
  const keyAt = raw.indexOf(`"${memberKey}"`);
  const start = keyAt < 0 ? -1 : raw.indexOf('{', keyAt);
  if (start < 0) return null;
  let depth = 0;
  let inString = false;
  for (let i = start; i < raw.length; i++) {
    const ch = raw[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) {
      const rest = raw.slice(i + 1);
      const sign = /"sign"\s*:\s*"([^"]*)"/.exec(rest)?.[1] ?? null;
      return { text: raw.slice(start, i + 1), sign };
    }
  }
  return null;
}

export function verifyAnswer(text: string, sign: string, alipayPublicKey: string): Promise<boolean> {
  return rsaVerify(alipayPublicKey, text, sign);
}
