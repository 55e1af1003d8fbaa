/**
 * UnionPay's key material: the merchant's signing certificate comes as a PKCS#12 file (read with
 * node-forge: Bun's crypto cannot open one), whose certificate serial in decimal is the `certId`
 * every request names; UnionPay's root and middle certificates are PEM (Bun's X509Certificate).
 */
import { type KeyObject, X509Certificate, createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import forge from 'node-forge';
import type { Secret } from '../../secrets.ts';
import type { ConfigProblem } from '../plugin.ts';

/** The signing key (never printable: a KeyObject), its certId, and its public key (to check our own forms). */
export type SigningCert = { key: KeyObject; certId: string; publicKey: KeyObject };

const problem = (field: string, message: string): { ok: false } & ConfigProblem => ({ ok: false, field: `config.${field}`, message });

/** The first bag of a type in a PKCS#12 file. */
function firstBag(p12: forge.pkcs12.Pkcs12Pfx, bagType: string | undefined): forge.pkcs12.Bag | undefined {
  if (bagType === undefined) throw new Error('assertion failed: node-forge names every PKCS#12 bag type');
  return p12.getBags({ bagType })[bagType]?.[0];
}

type Opened = { ok: true; cert: SigningCert } | ({ ok: false } & ConfigProblem);

/**
 * Files opened lately, by a digest of file and password: node-forge takes up to a second to open
 * one, and a config is read by the admin answers and by every new adapter. Bounded.
 */
const opened_files_max = 16;
const openedFiles = new Map<string, Opened>();

/** Opens the PKCS#12 file with its password (remembered for a while). */
export function openSigningCert(pfxBase64: Secret, password: Secret): Opened {
  const digest = createHash('sha256').update(pfxBase64.reveal()).update('\0').update(password.reveal()).digest('hex');
  const known = openedFiles.get(digest);
  if (known) return known;
  const opened = openFile(pfxBase64, password);
  if (openedFiles.size >= opened_files_max) openedFiles.clear();
  openedFiles.set(digest, opened);
  return opened;
}

/** Opens the PKCS#12 file with its password: the one place both are revealed. */
function openFile(pfxBase64: Secret, password: Secret): Opened {
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    const der = forge.util.decode64(pfxBase64.reveal().replace(/\s+/g, ''));
    p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(der), password.reveal());
  } catch (error) {
    const message = String((error as Error).message ?? error);
    return /MAC|password/i.test(message)
      ? problem('sign_cert_password', 'does not open sign_cert_pfx')
      : problem('sign_cert_pfx', 'is not a PKCS#12 file');
  }
  const keyBag = firstBag(p12, forge.pki.oids.pkcs8ShroudedKeyBag) ?? firstBag(p12, forge.pki.oids.keyBag);
  const cert = firstBag(p12, forge.pki.oids.certBag)?.cert;
  if (!keyBag?.key || !cert) return problem('sign_cert_pfx', 'must hold one private key and its certificate');
  const key = createPrivateKey(forge.pki.privateKeyToPem(keyBag.key));
  const publicKey = createPublicKey(forge.pki.certificateToPem(cert));
  if (!createPublicKey(key).equals(publicKey)) return problem('sign_cert_pfx', 'holds a certificate of another key');
  return { ok: true, cert: { key, publicKey, certId: BigInt(`0x${cert.serialNumber}`).toString(10) } };
}

/** A configured PEM certificate, or why it is not one. */
export function readCertificate(field: string, pem: string): { ok: true; cert: X509Certificate } | ({ ok: false } & ConfigProblem) {
  try {
    return { ok: true, cert: new X509Certificate(pem) };
  } catch {
    return problem(field, 'is not a PEM certificate');
  }
}
