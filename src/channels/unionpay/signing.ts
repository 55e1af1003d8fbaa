/**
 * ACP 5.1.0 signatures (signMethod 01), as UnionPay's SDKs make them: the fields sorted by name,
 * `signature` and empty values left out, joined as `k=v&…`; the SHA-256 of that text in lower-case
 * hex; and SHA256withRSA over those 64 hex characters — the digest is signed, not the text.
 * Answers and notifies carry the certificate they were signed with (`signPubKeyCert`), which must
 * be valid now, chain to the configured middle and root certificates, and name China UnionPay.
 */
import { type KeyObject, X509Certificate, createHash } from 'node:crypto';
import { rsaSign, rsaVerify } from '../rsa.ts';

export const signingText = (fields: Readonly<Record<string, string>>): string =>
  Object.keys(fields)
    .filter((name) => name !== 'signature' && fields[name] !== '')
    .sort()
    .map((name) => `${name}=${fields[name]}`)
    .join('&');

/** The hex SHA-256 of the signing text: what the RSA signature covers. */
export const signedDigest = (fields: Readonly<Record<string, string>>): string => createHash('sha256').update(signingText(fields), 'utf8').digest('hex');

export function signatureOf(fields: Readonly<Record<string, string>>, key: KeyObject): Promise<string> {
  return rsaSign(key, signedDigest(fields));
}

/** False for a wrong signature and for anything that is not a signature at all. */
export async function signatureValid(fields: Readonly<Record<string, string>>, publicKey: KeyObject): Promise<boolean> {
  const signature = fields.signature;
  return signature !== undefined && signature !== '' && (await rsaVerify(publicKey, signedDigest(fields), signature));
}

/** The name UnionPay's signing certificates carry. */
export const unionpay_cn = '中国银联股份有限公司';

export type Trust = { root: X509Certificate; middle: X509Certificate; validateCn: boolean };

const within = (cert: X509Certificate, now: number) => Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);

/**
 * The CN of a subject (`CN=…` lines, as X509Certificate prints it). UnionPay's production CNs
 * read `…@…@中国银联股份有限公司@…`: the company is the third `@` part; a CN of the name alone counts too.
 */
function namesUnionpay(subject: string): boolean {
  const cn = subject.split('\n').find((line) => line.startsWith('CN='))?.slice('CN='.length) ?? '';
  return cn === unionpay_cn || cn.split('@')[2] === unionpay_cn;
}

/** Why this signing certificate is not to be trusted now, or null when it is. */
export function certificateProblem(pem: string, trust: Trust, now: number): string | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return 'signPubKeyCert is not a certificate';
  }
  if (!within(cert, now)) return 'signPubKeyCert is outside its validity period';
  if (!within(trust.middle, now) || !within(trust.root, now)) return 'the configured middle or root certificate is outside its validity period';
  if (!cert.checkIssued(trust.middle) || !cert.verify(trust.middle.publicKey)) return 'signPubKeyCert is not issued by the configured middle certificate';
  if (!trust.middle.checkIssued(trust.root) || !trust.middle.verify(trust.root.publicKey)) return 'the configured middle certificate is not issued by the configured root';
  if (trust.validateCn && !namesUnionpay(cert.subject)) return `signPubKeyCert does not name ${unionpay_cn}`;
  return null;
}

/** Why a signed answer or notify is refused, or null when its certificate and signature check out. */
export async function verificationProblem(fields: Readonly<Record<string, string>>, trust: Trust, now: number): Promise<string | null> {
  const pem = fields.signPubKeyCert;
  if (!pem) return 'no signPubKeyCert';
  if (fields.signMethod !== '01') return `signMethod ${fields.signMethod ?? '(none)'} is not 01`;
  const problem = certificateProblem(pem, trust, now);
  if (problem) return problem;
  return (await signatureValid(fields, new X509Certificate(pem).publicKey)) ? null : 'signature does not verify';
}
