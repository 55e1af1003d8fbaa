/**
 * UnionPay ACP 5.1.0 signatures against an independent implementation, the `openssl` CLI (there
 * is no official Node SDK): the SHA-256 of the sorted `k=v&…` text in hex, then SHA256withRSA
 * over those hex characters. Both directions, from one fixed field set: what we sign, openssl
 * verifies and signs identically; what openssl signs as UnionPay, we accept — and a forged
 * signature, a certificate outside the chain, an expired one and a wrong CN are refused.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { openSigningCert } from '../../src/channels/unionpay/keys.ts';
import { type Trust, signatureOf, signedDigest, signingText, verificationProblem } from '../../src/channels/unionpay/signing.ts';
import { consumeClassOf, idOfOrderId, orderIdOf, respClassOf, txnTimeOf, unionpayTime } from '../../src/channels/unionpay/transformers.ts';
import { unionpay } from '../../src/channels/unionpay/index.ts';
import { ulid } from 'ulid';
import { newId } from '../../src/ids.ts';
import { Secret } from '../../src/secrets.ts';
import { type Pki, buildPki, opensslDigest, opensslSign, opensslVerifies, sortedText } from './unionpay-pki.ts';

let pki: Pki;
let trust: Trust;
/** After the certificates were made (they are valid from the second they were). */
let now: number;

beforeAll(() => {
  pki = buildPki();
  trust = { root: new X509Certificate(pki.rootPem), middle: new X509Certificate(pki.middlePem), validateCn: true };
  now = Date.now() + 1_000;
}, 120_000);
afterAll(() => pki?.remove());

/** A web consume as the SDK's demo builds it, with text that must not be escaped or trimmed. */
const consume = (): Record<string, string> => ({
  version: '5.1.0', encoding: 'UTF-8', signMethod: '01', txnType: '01', txnSubType: '01', bizType: '000201', channelType: '07', accessType: '0',
  merId: '777290058110048', orderId: 'flw01JDQ7ZKX5V3M9T2B8N4C6R1EH', txnTime: '20261124180000', txnAmt: '1234', currencyCode: '156',
  frontUrl: 'https://pay.example.com/channels/unionpay/up_main/return', backUrl: 'https://pay.example.com/callbacks/unionpay/up_main?a=1&b=2',
  payTimeout: '20261124182800', reqReserved: '备注 & more=1', riskRateInfo: '', certId: '455393762654',
});

/** A notify as UnionPay sends one: signed with its signing key, carrying that certificate. */
const notify = (certPem = pki.unionpay.certPem): Record<string, string> => ({
  version: '5.1.0', encoding: 'UTF-8', signMethod: '01', txnType: '01', txnSubType: '01', bizType: '000201', accessType: '0', merId: '777290058110048',
  orderId: 'flw01JDQ7ZKX5V3M9T2B8N4C6R1EH', txnTime: '20261124180000', txnAmt: '1234', currencyCode: '156', queryId: '782611241800051234567',
  traceNo: '123456', traceTime: '1124180005', settleDate: '1124', respCode: '00', respMsg: '成功[0000000]', signPubKeyCert: certPem,
});

const signedBy = (fields: Record<string, string>, keyPath: string): Record<string, string> => ({ ...fields, signature: opensslSign(fields, keyPath) });

describe('unionpay requests: our signature is openssl\'s', () => {
  test('the signed text leaves out signature and empty values, sorted by name; its hex SHA-256 is openssl dgst\'s', () => {
    const fields = { ...consume(), signature: 'ignored' };
    expect(signingText(fields)).toBe(sortedText(fields));
    expect(signingText(fields)).not.toContain('riskRateInfo');
    expect(signingText(fields).startsWith('accessType=0&backUrl=https://pay.example.com/callbacks/unionpay/up_main?a=1&b=2&bizType=000201')).toBe(true);
    expect(signedDigest(fields)).toBe(opensslDigest(fields));
    expect(signedDigest(fields)).toMatch(/^[0-9a-f]{64}$/);
  });

  test('signatureOf equals openssl dgst -sha256 -sign over the hex digest, and openssl verifies it; a tampered field fails', async () => {
    const key = createPrivateKey(readFileSync(pki.merchant.keyPath, 'utf8'));
    const fields = consume();
    const ours = await signatureOf(fields, key);
    expect(ours).toBe(opensslSign(fields, pki.merchant.keyPath));
    expect(opensslVerifies(fields, pki.merchant.publicKeyPath, ours, pki.dir)).toBe(true);
    expect(opensslVerifies({ ...fields, txnAmt: '1' }, pki.merchant.publicKeyPath, ours, pki.dir)).toBe(false);
  });

  test('the key and certId come from the PKCS#12 file (new and legacy formats); certId is the serial in decimal', async () => {
    for (const pfx of [pki.merchant.pfxBase64, pki.merchant.legacyPfxBase64]) {
      const opened = openSigningCert(new Secret(pfx), new Secret(pki.merchant.password));
      if (!opened.ok) throw new Error(opened.message);
      expect(opened.cert.certId).toBe(pki.merchant.serialDecimal);
      expect(await signatureOf(consume(), opened.cert.key)).toBe(opensslSign(consume(), pki.merchant.keyPath));
    }
    expect(openSigningCert(new Secret(pki.merchant.pfxBase64), new Secret('wrong'))).toEqual({ ok: false, field: 'config.sign_cert_password', message: 'does not open sign_cert_pfx' });
    expect(openSigningCert(new Secret('bm90IGEgcGZ4'), new Secret(pki.merchant.password))).toMatchObject({ ok: false, field: 'config.sign_cert_pfx' });
  });
});

describe('unionpay answers and notifies signed by openssl as UnionPay signs them', () => {
  test('a notify signed with UnionPay\'s key, carrying its certificate, verifies', async () => {
    expect(await verificationProblem(signedBy(notify(), pki.unionpay.keyPath), trust, now)).toBeNull();
  });

  test('a tampered amount, or a signature by another key over the same certificate, is refused', async () => {
    const signed = signedBy(notify(), pki.unionpay.keyPath);
    expect(await verificationProblem({ ...signed, txnAmt: '1' }, trust, now)).toBe('signature does not verify');
    expect(await verificationProblem(signedBy(notify(), pki.merchant.keyPath), trust, now)).toBe('signature does not verify');
    expect(await verificationProblem({ ...signed, signature: 'AAAA' }, trust, now)).toBe('signature does not verify');
    const { signature: _, ...unsigned } = signed;
    expect(await verificationProblem(unsigned, trust, now)).toBe('signature does not verify');
  });

  test('a certificate outside the configured chain is refused, however well it signs', async () => {
    expect(await verificationProblem(signedBy(notify(pki.outsider.certPem), pki.outsider.keyPath), trust, now)).toBe('signPubKeyCert is not issued by the configured middle certificate');
    // The chain is to the configured middle *and* root: a middle of another root does not do.
    const otherRoot = new X509Certificate(pki.outsider.certPem);
    expect(await verificationProblem(signedBy(notify(), pki.unionpay.keyPath), { ...trust, root: otherRoot }, now)).toBe('the configured middle certificate is not issued by the configured root');
  });

  test('an expired certificate is refused; before that it was accepted', async () => {
    const signed = signedBy(notify(), pki.unionpay.keyPath);
    expect(await verificationProblem(signed, trust, now + pki.signerValidMs - 86_400_000)).toBeNull();
    expect(await verificationProblem(signed, trust, now + pki.signerValidMs + 86_400_000)).toBe('signPubKeyCert is outside its validity period');
  });

  test('a certificate of the chain that does not name 中国银联股份有限公司 is refused, unless validate_cn is false', async () => {
    const signed = signedBy(notify(pki.wrongCn.certPem), pki.wrongCn.keyPath);
    expect(await verificationProblem(signed, trust, now)).toBe('signPubKeyCert does not name 中国银联股份有限公司');
    expect(await verificationProblem(signed, { ...trust, validateCn: false }, now)).toBeNull();
  });

  test('no certificate, or another signMethod, is refused', async () => {
    const { signPubKeyCert: _, ...withoutCert } = signedBy(notify(), pki.unionpay.keyPath);
    expect(await verificationProblem(withoutCert, trust, now)).toBe('no signPubKeyCert');
    expect(await verificationProblem({ ...signedBy(notify(), pki.unionpay.keyPath), signMethod: '11' }, trust, now)).toBe('signMethod 11 is not 01');
  });
});

describe('unionpay fields', () => {
  test('our ids map to 8–40 letters and digits and back', () => {
    for (const id of [newId('flw', now), newId('rfd', now), `rfd_${newId('flw', now).slice(4)}`]) {
      const orderId = orderIdOf(id);
      expect(orderId).toMatch(/^[A-Za-z0-9]{8,40}$/);
      expect(idOfOrderId(orderId!)).toBe(id);
    }
    expect(orderIdOf('F01JQUERYFLOW')).toBeNull();
    expect(idOfOrderId('flw01JD')).toBeNull();
  });

  test('respCode words: 00 and A6 (success with a defect) succeed, 03/04/05 are not known yet, the rest refuse', () => {
    expect(['00', 'A6'].map(respClassOf)).toEqual(['success', 'success']);
    expect(['03', '04', '05'].map(respClassOf)).toEqual(['processing', 'processing', 'processing']);
    expect(['01', '12', '34', 'a6', undefined].map(respClassOf)).toEqual(['refused', 'refused', 'refused', 'refused', 'refused']);
  });

  test('a consume\'s failure is not final while the payer may still pay; its success and "not known yet" read the same either way', () => {
    expect(['60', '01', undefined].map((code) => consumeClassOf(code, true))).toEqual(['processing', 'processing', 'processing']);
    expect(['60', '01', undefined].map((code) => consumeClassOf(code, false))).toEqual(['refused', 'refused', 'refused']);
    for (const payable of [true, false]) {
      expect(['00', 'A6', '05'].map((code) => consumeClassOf(code, payable))).toEqual(['success', 'success', 'processing']);
    }
  });

  test('txnTime is China time, from the id\'s own time', () => {
    const at = Date.UTC(2026, 10, 24, 16, 30, 5);
    expect(unionpayTime(at)).toBe('20261125003005');
    expect(txnTimeOf(`flw_${ulid(at)}`)).toBe('20261125003005');
  });

  test('the plug-in refuses a config whose key file does not open, naming the field; keys are redacted by type', () => {
    const config = {
      mer_id: '777290058110048', sign_cert_pfx: pki.merchant.pfxBase64, sign_cert_password: pki.merchant.password, root_cert: pki.rootPem, middle_cert: pki.middlePem,
    };
    const reading = unionpay.readConfig(config);
    if (!reading.ok) throw new Error(reading.message);
    expect(JSON.parse(JSON.stringify(reading.shown))).toMatchObject({ sign_cert_pfx: '[redacted]', sign_cert_password: '[redacted]', gateway_url: 'https://gateway.95516.com', validate_cn: true });
    expect(unionpay.readConfig({ ...config, sign_cert_password: 'nope' })).toEqual({ ok: false, field: 'config.sign_cert_password', message: 'does not open sign_cert_pfx' });
    expect(unionpay.readConfig({ ...config, middle_cert: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' })).toMatchObject({ ok: false, field: 'config.middle_cert' });
    expect(unionpay.secretFields).toEqual(['sign_cert_pfx', 'sign_cert_password']);
  });
});
