// The UnionPay sandbox's own test PKI: root → middle → the signing certificate whose subject CN
// names 中国银联股份有限公司 (it signs answers and notifies, and travels in `signPubKeyCert`),
// plus the merchants' signing certificates, handed out as PKCS#12 files the way UnionPay's
// merchant service hands out its `.pfx`. Keys come from node:crypto (fast, native); node-forge
// only assembles the certificates and the PKCS#12, which node:crypto cannot build.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/** The subject CN a verifier expects on UnionPay's signing certificate. */
export const UNIONPAY_SIGNER_CN = '中国银联股份有限公司';

/**
 * Signing certificates a verifier must refuse, for the `signer` fault: one that expired, one
 * whose CN is not UnionPay's, and one outside the chain (self-signed, with UnionPay's CN).
 */
export const impostors = ['expired', 'wrong_cn', 'untrusted'] as const;
export type Impostor = (typeof impostors)[number];

export type KeyedCert = { cert: string; key: string };

export type UnionpayCa = {
  rootCert: string;
  middleCert: string;
  middleKey: string;
  signCert: string;
  signKey: string;
  /** Made on first use of the `signer` fault. */
  impostors?: Partial<Record<Impostor, KeyedCert>>;
};

export type IssuedCert = { certPem: string; keyPem: string; certId: string };

const DAY_MS = 24 * 3600 * 1000;
const ca_years = 10;
const leaf_years = 5;

type Name = forge.pki.CertificateField[];

// UTF8String, so that a CN in Chinese survives. forge reads `valueTagClass` as the string's
// ASN.1 type; @types/node-forge mistypes it as a tag class, hence the numeric detour.
const utf8: forge.asn1.Class = forge.asn1.Type.UTF8 as number;

const name = (cn: string, ou: string): Name => [
  { shortName: 'C', value: 'CN' },
  { shortName: 'O', value: 'paycenter sandbox', valueTagClass: utf8 },
  { shortName: 'OU', value: ou, valueTagClass: utf8 },
  { shortName: 'CN', value: cn, valueTagClass: utf8 },
];

function rsaKey(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
}

/** A positive 64-bit serial (top bit clear, so DER needs no sign byte). */
function serialHex(): string {
  const bytes = randomBytes(8);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x10;
  return bytes.toString('hex');
}

/** `certId`: the certificate's serial number in decimal, as UnionPay's SDKs print it. */
export function certIdOf(certPem: string): string {
  return BigInt(`0x${forge.pki.certificateFromPem(certPem).serialNumber}`).toString(10);
}

type IssueInput = { subject: Name; keyPem: string; issuer?: { cert: forge.pki.Certificate; keyPem: string }; isCa: boolean; from: number; to: number };

/** Valid from a day before `now` (a verifier whose clock lags a little still accepts it) for `years`. */
const validFor = (now: number, years: number) => ({ from: now - DAY_MS, to: now + years * 365 * DAY_MS });

function issue(input: IssueInput): string {
  const key = forge.pki.privateKeyFromPem(input.keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serialHex();
  cert.validity.notBefore = new Date(input.from);
  cert.validity.notAfter = new Date(input.to);
  cert.setSubject(input.subject);
  cert.setIssuer(input.issuer ? input.issuer.cert.subject.attributes : input.subject);
  cert.setExtensions(
    input.isCa
      ? [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }, { name: 'subjectKeyIdentifier' }]
      : [{ name: 'basicConstraints', cA: false }, { name: 'keyUsage', digitalSignature: true, nonRepudiation: true, critical: true }, { name: 'subjectKeyIdentifier' }],
  );
  const signer = input.issuer ? (forge.pki.privateKeyFromPem(input.issuer.keyPem) as forge.pki.rsa.PrivateKey) : key;
  cert.sign(signer, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** Root and middle CAs and UnionPay's signing certificate, valid from `now`. */
export function createUnionpayCa(now: number): UnionpayCa {
  const rootKey = rsaKey();
  const middleKey = rsaKey();
  const signKey = rsaKey();
  const rootCert = issue({ subject: name('paycenter sandbox UnionPay Root CA', 'Root'), keyPem: rootKey, isCa: true, ...validFor(now, ca_years) });
  const middleCert = issue({ subject: name('paycenter sandbox UnionPay Middle CA', 'Middle'), keyPem: middleKey, issuer: { cert: forge.pki.certificateFromPem(rootCert), keyPem: rootKey }, isCa: true, ...validFor(now, ca_years) });
  return { rootCert, middleCert, middleKey, signCert: issueLeaf({ middleCert, middleKey }, UNIONPAY_SIGNER_CN, 'UnionPay Signing', signKey, validFor(now, leaf_years)), signKey };
}

function issueLeaf(ca: Pick<UnionpayCa, 'middleCert' | 'middleKey'>, cn: string, ou: string, keyPem: string, validity: { from: number; to: number }): string {
  return issue({ subject: name(cn, ou), keyPem, issuer: { cert: forge.pki.certificateFromPem(ca.middleCert), keyPem: ca.middleKey }, isCa: false, ...validity });
}

/** A signing certificate that looks like UnionPay's but must be refused, as `kind` says. */
export function issueImpostor(ca: UnionpayCa, kind: Impostor, now: number): KeyedCert {
  const key = rsaKey();
  switch (kind) {
    case 'expired':
      return { key, cert: issueLeaf(ca, UNIONPAY_SIGNER_CN, 'UnionPay Signing', key, { from: now - 2 * 365 * DAY_MS, to: now - 365 * DAY_MS }) };
    case 'wrong_cn':
      return { key, cert: issueLeaf(ca, '银联沙箱冒名者 Impostor Ltd', 'UnionPay Signing', key, validFor(now, leaf_years)) };
    case 'untrusted':
      return { key, cert: issue({ subject: name(UNIONPAY_SIGNER_CN, 'UnionPay Signing'), keyPem: key, isCa: false, ...validFor(now, leaf_years) }) };
  }
}

/** A merchant's signing certificate, issued by the middle CA. */
export function issueMerchantCert(ca: UnionpayCa, merId: string, now: number): IssuedCert {
  const keyPem = rsaKey();
  const certPem = issueLeaf(ca, `041@Z${merId}@00000000@1`, 'Merchant', keyPem, validFor(now, leaf_years));
  return { certPem, keyPem, certId: certIdOf(certPem) };
}

/** PKCS#12 (base64 DER) holding the key and its certificate, 3DES-protected like UnionPay's `.pfx`. */
export function toPfxBase64(cert: IssuedCert, password: string): string {
  const asn1 = forge.pkcs12.toPkcs12Asn1(forge.pki.privateKeyFromPem(cert.keyPem), [forge.pki.certificateFromPem(cert.certPem)], password, { algorithm: '3des', friendlyName: 'unionpay-sign' });
  return forge.util.encode64(forge.asn1.toDer(asn1).getBytes());
}
