// A UnionPay merchant written for the tests, independently of the sandbox and of paycenter:
// the PKCS#12 is opened with the openssl CLI, signing and verification are node:crypto here,
// and one vector is cross-checked against `openssl dgst`. A bug in the sandbox's signing can
// therefore not agree with itself.
import { createHash, createSign, createVerify, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What the sandbox hands out at POST /unionpay/merchants. */
export type UnionpayCreds = {
  mer_id: string;
  sign_cert_pfx: string;
  sign_cert_password: string;
  root_cert: string;
  middle_cert: string;
  gateway_url: string;
};

export type Fields = Record<string, string>;
export type MerchantKey = { keyPem: string; certPem: string; certId: string };

export async function openssl(args: string[], stdin?: string | Uint8Array): Promise<{ code: number; out: Buffer; err: string }> {
  const proc = Bun.spawn(['openssl', ...args], { stdin: stdin === undefined ? 'ignore' : new Blob([stdin]), stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out: Buffer.from(out), err };
}

/** Runs fn with a scratch directory that is removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'upsb-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const pemBlock = (text: string, label: string): string => {
  const m = new RegExp(`-----BEGIN ${label}-----[\\s\\S]+?-----END ${label}-----`).exec(text);
  if (!m) throw new Error(`no ${label} in openssl output`);
  return m[0];
};

/** Opens the merchant's PKCS#12 with the openssl CLI; certId is the serial in decimal. */
export async function openPfx(creds: UnionpayCreds): Promise<MerchantKey> {
  return withTempDir(async (dir) => {
    const file = join(dir, 'sign.pfx');
    writeFileSync(file, Buffer.from(creds.sign_cert_pfx, 'base64'));
    const pass = `pass:${creds.sign_cert_password}`;
    const key = await openssl(['pkcs12', '-in', file, '-passin', pass, '-nodes', '-nocerts']);
    const cert = await openssl(['pkcs12', '-in', file, '-passin', pass, '-nokeys', '-clcerts']);
    if (key.code !== 0 || cert.code !== 0) throw new Error(`openssl pkcs12 failed: ${key.err}${cert.err}`);
    const certPem = pemBlock(cert.out.toString(), 'CERTIFICATE');
    const serial = await openssl(['x509', '-noout', '-serial'], certPem);
    const hex = /serial=([0-9A-F]+)/i.exec(serial.out.toString())?.[1] ?? '';
    return { keyPem: pemBlock(key.out.toString(), 'PRIVATE KEY'), certPem, certId: BigInt(`0x${hex}`).toString(10) };
  });
}

export function signString(fields: Fields): string {
  return Object.keys(fields)
    .filter((k) => k !== 'signature' && fields[k] !== '')
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&');
}

const digestHex = (fields: Fields) => createHash('sha256').update(signString(fields), 'utf8').digest('hex');

/** signMethod 01: SHA256withRSA over the hex SHA-256 of the sorted string. */
export function sign(fields: Fields, keyPem: string): Fields {
  return { ...fields, signature: createSign('RSA-SHA256').update(digestHex(fields)).sign(keyPem, 'base64') };
}

/** The same signature computed by the openssl CLI alone. */
export async function opensslSignature(fields: Fields, keyPem: string): Promise<string> {
  return withTempDir(async (dir) => {
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, keyPem);
    const digest = await openssl(['dgst', '-sha256', '-r'], signString(fields));
    const hex = /^([0-9a-f]{64})/.exec(digest.out.toString())?.[1];
    if (!hex) throw new Error(`openssl dgst: ${digest.err}`);
    const sig = await openssl(['dgst', '-sha256', '-sign', keyFile], hex);
    if (sig.code !== 0) throw new Error(`openssl dgst -sign: ${sig.err}`);
    return sig.out.toString('base64');
  });
}

/** UnionPay's raw `k=v&…` answer, split the way the SDKs do (no URL decoding). */
export function parseRaw(text: string): Fields {
  const out: Fields = {};
  for (const pair of text.split('&')) {
    const i = pair.indexOf('=');
    if (i > 0) out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

/** Why a UnionPay message does not verify, or undefined when it does. */
export function verifyProblem(fields: Fields, creds: UnionpayCreds, nowMs = Date.now()): string | undefined {
  if (!fields.signPubKeyCert || !fields.signature) return 'unsigned';
  const cert = new X509Certificate(fields.signPubKeyCert);
  const middle = new X509Certificate(creds.middle_cert);
  const root = new X509Certificate(creds.root_cert);
  if (!(cert.checkIssued(middle) && cert.verify(middle.publicKey) && middle.verify(root.publicKey))) return 'chain';
  if (nowMs < Date.parse(cert.validFrom) || nowMs > Date.parse(cert.validTo)) return 'validity';
  if (!/(^|\n)CN=中国银联股份有限公司(\n|$)/.test(cert.subject)) return 'cn';
  const ok = createVerify('RSA-SHA256').update(digestHex(fields)).verify(fields.signPubKeyCert, fields.signature, 'base64');
  return ok ? undefined : 'signature';
}

/** yyyyMMddHHmmss, Beijing time. */
export function txnTime(ms = Date.now()): string {
  return new Date(ms + 8 * 3600e3).toISOString().slice(0, 19).replace(/[-T:]/g, '');
}

export function envelope(creds: UnionpayCreds, key: MerchantKey): Fields {
  return { version: '5.1.0', encoding: 'UTF-8', signMethod: '01', certId: key.certId, merId: creds.mer_id, accessType: '0' };
}

/** Posts signed (or pre-signed) fields to a back endpoint; returns the raw text and its fields. */
export async function acpPost(url: string, fields: Fields): Promise<{ status: number; location: string | null; text: string; fields: Fields }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' }, body: new URLSearchParams(fields).toString(), redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, location: res.headers.get('location'), text, fields: res.status === 200 ? parseRaw(text) : {} };
}

/** The hidden inputs of an auto-posting form (the front return to frontUrl). */
export function formInputs(html: string): { action: string; fields: Fields } {
  const unescape = (s: string) => s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
  const action = unescape(/<form[^>]*action="([^"]*)"/.exec(html)?.[1] ?? '');
  const fields: Fields = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) fields[unescape(m[1] ?? '')] = unescape(m[2] ?? '');
  return { action, fields };
}
