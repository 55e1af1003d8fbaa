/**
 * A throwaway UnionPay-style PKI made with the `openssl` CLI (nothing of paycenter, nor
 * node-forge): a root → middle chain with UnionPay's signing certificate, the same with a wrong
 * CN, a signing certificate from another root, and a merchant's PKCS#12 signing file.
 * `openssl` also computes the signature vectors the tests compare with (see `opensslSign`).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type KeyPair = { keyPath: string; certPem: string };

export type Pki = {
  dir: string;
  rootPem: string;
  middlePem: string;
  /** Signed by the middle certificate, CN 中国银联股份有限公司, valid for 30 days from now. */
  unionpay: KeyPair;
  /** Signed by the middle certificate, another CN. */
  wrongCn: KeyPair;
  /** CN 中国银联股份有限公司, but issued by another root. */
  outsider: KeyPair;
  /** The merchant's signing file: PKCS#12 in base64, its password, the serial in decimal. */
  merchant: KeyPair & { pfxBase64: string; legacyPfxBase64: string; password: string; serialDecimal: string; publicKeyPath: string };
  /** Milliseconds after which the UnionPay signing certificates have expired (the CAs have not). */
  signerValidMs: number;
  remove(): void;
};

export function openssl(args: string[], input?: string): string {
  const run = Bun.spawnSync(['openssl', ...args], { stdin: input === undefined ? 'ignore' : Buffer.from(input, 'utf8'), stdout: 'pipe', stderr: 'pipe' });
  if (run.exitCode !== 0) throw new Error(`openssl ${args.join(' ')}: ${run.stderr.toString()}`);
  return run.stdout.toString();
}

const ca_ext = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n';
const leaf_ext = 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n';

export function buildPki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'unionpay-pki-'));
  const path = (name: string) => join(dir, name);
  writeFileSync(path('ca.ext'), ca_ext);
  writeFileSync(path('leaf.ext'), leaf_ext);

  const selfSigned = (name: string, subject: string) => {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path(`${name}.key`), '-out', path(`${name}.pem`), '-days', '3650', '-utf8', '-subj', subject,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  };
  const issued = (name: string, subject: string, issuer: string, serial: string, days: string, ext: string) => {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', path(`${name}.key`), '-out', path(`${name}.csr`), '-utf8', '-subj', subject]);
    openssl(['x509', '-req', '-in', path(`${name}.csr`), '-CA', path(`${issuer}.pem`), '-CAkey', path(`${issuer}.key`), '-set_serial', serial, '-days', days,
      '-extfile', path(ext), '-out', path(`${name}.pem`)]);
  };
  const pair = (name: string): KeyPair => ({ keyPath: path(`${name}.key`), certPem: readFileSync(path(`${name}.pem`), 'utf8') });

  selfSigned('root', '/CN=Test UnionPay Root');
  issued('middle', '/CN=Test UnionPay Middle', 'root', '2', '3650', 'ca.ext');
  issued('unionpay', '/C=CN/O=China UnionPay/CN=041@8310000000@中国银联股份有限公司@00000001', 'middle', '0x0A51', '30', 'leaf.ext');
  issued('wrong_cn', '/C=CN/O=Some Bank/CN=某银行股份有限公司', 'middle', '0x0A52', '30', 'leaf.ext');
  selfSigned('other_root', '/CN=Another Root');
  issued('outsider', '/CN=中国银联股份有限公司', 'other_root', '0x0A53', '30', 'leaf.ext');

  // The merchant's certificate: its serial, in decimal, is the certId of every request.
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path('merchant.key'), '-out', path('merchant.pem'), '-days', '365', '-subj', '/CN=777290058110048',
    '-set_serial', '0x6A0B3C4D5E']);
  openssl(['pkey', '-in', path('merchant.key'), '-pubout', '-out', path('merchant.pub')]);
  // UnionPay's files have ASCII passwords (node-forge reads a non-ASCII one differently from OpenSSL).
  const password = 'p@ss 000000';
  openssl(['pkcs12', '-export', '-inkey', path('merchant.key'), '-in', path('merchant.pem'), '-passout', `pass:${password}`, '-out', path('merchant.p12')]);
  // The older format UnionPay's own files come in (3DES and RC2, SHA-1 MAC).
  openssl(['pkcs12', '-export', '-legacy', '-inkey', path('merchant.key'), '-in', path('merchant.pem'), '-passout', `pass:${password}`, '-out', path('merchant-legacy.p12')]);
  const serialHex = openssl(['x509', '-in', path('merchant.pem'), '-noout', '-serial']).trim().replace(/^serial=/, '');

  return {
    dir, rootPem: pair('root').certPem, middlePem: pair('middle').certPem,
    unionpay: pair('unionpay'), wrongCn: pair('wrong_cn'), outsider: pair('outsider'),
    merchant: {
      ...pair('merchant'), publicKeyPath: path('merchant.pub'), password, serialDecimal: BigInt(`0x${serialHex}`).toString(10),
      pfxBase64: readFileSync(path('merchant.p12')).toString('base64'), legacyPfxBase64: readFileSync(path('merchant-legacy.p12')).toString('base64'),
    },
    signerValidMs: 30 * 86_400_000,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The text ACP 5.1.0 signs, built here independently: sorted, no signature, no empty values, `k=v&…`. */
export const sortedText = (fields: Record<string, string>) =>
  Object.entries(fields).filter(([k, v]) => k !== 'signature' && v !== '').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join('&');

/** `openssl dgst -sha256` of the sorted text, as lower-case hex. */
export const opensslDigest = (fields: Record<string, string>) => openssl(['dgst', '-sha256', '-r'], sortedText(fields)).split(' ')[0]!;

/** `openssl dgst -sha256 -sign` over the hex digest: the signature UnionPay's SDKs make, base64. */
export function opensslSign(fields: Record<string, string>, keyPath: string): string {
  const run = Bun.spawnSync(['openssl', 'dgst', '-sha256', '-sign', keyPath], { stdin: Buffer.from(opensslDigest(fields), 'utf8'), stdout: 'pipe', stderr: 'pipe' });
  if (run.exitCode !== 0) throw new Error(`openssl dgst -sign: ${run.stderr.toString()}`);
  return Buffer.from(run.stdout).toString('base64');
}

/** `openssl dgst -sha256 -verify` of a base64 signature over the hex digest. */
export function opensslVerifies(fields: Record<string, string>, publicKeyPath: string, signature: string, dir: string): boolean {
  const signaturePath = join(dir, `sig-${crypto.randomUUID()}.bin`);
  writeFileSync(signaturePath, Buffer.from(signature, 'base64'));
  const run = Bun.spawnSync(['openssl', 'dgst', '-sha256', '-verify', publicKeyPath, '-signature', signaturePath], {
    stdin: Buffer.from(opensslDigest(fields), 'utf8'), stdout: 'pipe', stderr: 'pipe',
  });
  return run.exitCode === 0 && run.stdout.toString().includes('Verified OK');
}
