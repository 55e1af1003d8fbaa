import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Started, post, startReceiver, startSandbox } from './helpers.ts';
import {
  type Fields,
  type MerchantKey,
  type UnionpayCreds,
  acpPost,
  envelope,
  formInputs,
  openPfx,
  openssl,
  opensslSignature,
  sign,
  txnTime,
  verifyProblem,
  withTempDir,
} from './unionpay-merchant.ts';

let sb: Started;
let creds: UnionpayCreds;
let key: MerchantKey;
const notified: Fields[] = [];
// Answers 500 to the first notify of an order named "*Retry*", then 200, as a flaky merchant would.
const receiver = startReceiver((r) => {
  const f = Object.fromEntries(new URLSearchParams(r.body));
  notified.push(f);
  const firstOfRetry = (f.orderId ?? '').includes('Retry') && notified.filter((n) => n.orderId === f.orderId).length === 1;
  return new Response(firstOfRetry ? 'busy' : 'ok', { status: firstOfRetry ? 500 : 200 });
});

const back = () => `${creds.gateway_url}/gateway/api/backTransReq.do`;
const queryUrl = () => `${creds.gateway_url}/gateway/api/queryTrans.do`;
const front = () => `${creds.gateway_url}/gateway/api/frontTransReq.do`;

function qrApply(orderId: string, amountFen: number, time = txnTime(sb.clock.now)): Fields {
  return sign({ ...envelope(creds, key), txnType: '01', txnSubType: '07', bizType: '000000', channelType: '08', orderId, txnTime: time, txnAmt: String(amountFen), currencyCode: '156', backUrl: receiver.url }, key.keyPem);
}

function queryFields(orderId: string, time: string): Fields {
  return sign({ ...envelope(creds, key), txnType: '00', txnSubType: '00', bizType: '000000', orderId, txnTime: time }, key.keyPem);
}

/** A refund (04) or undo (31) of a consume; `bizType` is its product's (QR by default, as paidQr's). */
function giveBack(txnType: '04' | '31', origQryId: string, orderId: string, amountFen: number, bizType = '000000'): Fields {
  return sign({ ...envelope(creds, key), txnType, txnSubType: '00', bizType, channelType: '07', orderId, txnTime: txnTime(sb.clock.now), txnAmt: String(amountFen), currencyCode: '156', backUrl: receiver.url, origQryId }, key.keyPem);
}

/** Applies for a QR code and pays it as the payer; returns the consume's queryId and txnTime. */
async function paidQr(orderId: string, amountFen: number): Promise<{ queryId: string; time: string }> {
  const time = txnTime(sb.clock.now);
  const applied = await acpPost(back(), qrApply(orderId, amountFen, time));
  expect(applied.fields.respCode).toBe('00');
  const paid = await post(applied.fields.qrCode as string, { outcome: 'pay' });
  expect(paid.status).toBe(200);
  const q = await acpPost(queryUrl(), queryFields(orderId, time));
  return { queryId: q.fields.queryId as string, time };
}

/** Posts a web consume to the front gateway and pays it on the pay page; returns the consume's queryId. */
async function paidWeb(orderId: string, amountFen: number): Promise<{ queryId: string }> {
  const time = txnTime(sb.clock.now);
  const form = sign({ ...envelope(creds, key), txnType: '01', txnSubType: '01', bizType: '000201', channelType: '07', orderId, txnTime: time, txnAmt: String(amountFen), currencyCode: '156', backUrl: receiver.url, payTimeout: txnTime(sb.clock.now + 15 * 60_000) }, key.keyPem);
  expect((await acpPost(front(), form)).status).toBe(302);
  expect((await post(`${sb.base}/pay/unionpay/${creds.mer_id}/${orderId}`, { outcome: 'pay' })).status).toBe(200);
  const q = await acpPost(queryUrl(), queryFields(orderId, time));
  return { queryId: q.fields.queryId as string };
}

async function notifiesOf(orderId: string, n: number): Promise<Fields[]> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const got = notified.filter((f) => f.orderId === orderId);
    if (got.length >= n || Date.now() > deadline) return got;
    await receiver.waitFor(receiver.received.length + 1).catch(() => undefined);
  }
}

beforeAll(async () => {
  sb = await startSandbox();
  const res = await post(`${sb.base}/unionpay/merchants`, {});
  expect(res.status).toBe(201);
  creds = (await res.json()) as UnionpayCreds;
  key = await openPfx(creds);
}, 30_000); // the sandbox's first UnionPay call creates its CA: RSA keys take a while on a busy machine

afterAll(async () => {
  await sb.stop();
  receiver.stop();
});

describe('unionpay sandbox: credentials and signatures', () => {
  test('provisioning hands out a merId, a PKCS#12 with its password, the chain and the gateway', async () => {
    expect(creds.mer_id).toMatch(/^777\d{12}$/);
    expect(creds.gateway_url).toBe(`${sb.base}/unionpay`);
    expect(key.certId).toMatch(/^\d+$/);
    expect(key.keyPem).toContain('PRIVATE KEY');
    // The merchant certificate chains to the handed-out root through the middle (openssl's own check).
    const ok = await withTempDir(async (dir) => {
      writeFileSync(join(dir, 'root.pem'), creds.root_cert);
      writeFileSync(join(dir, 'middle.pem'), creds.middle_cert);
      writeFileSync(join(dir, 'merchant.pem'), key.certPem);
      return openssl(['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'middle.pem'), join(dir, 'merchant.pem')]);
    });
    expect(ok.code).toBe(0);
  });

  test('a request signed by the openssl CLI is accepted, and the signed answer chains to 中国银联股份有限公司', async () => {
    const unsigned = { ...envelope(creds, key), txnType: '01', txnSubType: '07', bizType: '000000', channelType: '08', orderId: 'SIGN0001', txnTime: txnTime(sb.clock.now), txnAmt: '1', currencyCode: '156', backUrl: receiver.url };
    const signature = await opensslSignature(unsigned, key.keyPem);
    // PKCS#1 v1.5 is deterministic: the test's node:crypto signer and openssl agree byte for byte.
    expect(sign(unsigned, key.keyPem).signature).toBe(signature);
    const r = await acpPost(back(), { ...unsigned, signature });
    expect(r.fields).toMatchObject({ respCode: '00', orderId: 'SIGN0001', merId: creds.mer_id, version: '5.1.0', signMethod: '01' });
    expect(verifyProblem(r.fields, creds)).toBeUndefined();
    // The signing certificate chains by openssl's check too.
    const chain = await withTempDir(async (dir) => {
      writeFileSync(join(dir, 'root.pem'), creds.root_cert);
      writeFileSync(join(dir, 'middle.pem'), creds.middle_cert);
      writeFileSync(join(dir, 'sign.pem'), r.fields.signPubKeyCert as string);
      return openssl(['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'middle.pem'), join(dir, 'sign.pem')]);
    });
    expect(chain.code).toBe(0);
    // A changed field breaks the answer's signature: the check can fail.
    expect(verifyProblem({ ...r.fields, respCode: '01' }, creds)).toBe('signature');
  });

  test('forged, tampered and mismatched requests are refused with a signed 11, 31 or 10', async () => {
    const good = qrApply('FORGE001', 100);
    const other = (await (await post(`${sb.base}/unionpay/merchants`, {})).json()) as UnionpayCreds;
    const otherKey = await openPfx(other);
    const forged = sign({ ...good, signature: '' }, otherKey.keyPem);
    const cases: Array<[Fields, string]> = [
      [forged, '11'], // signed by another merchant's key
      [{ ...good, txnAmt: '1' }, '11'], // tampered after signing
      [sign({ ...good, certId: otherKey.certId }, key.keyPem), '11'], // certId of another certificate
      [sign({ ...good, merId: '777000000000000' }, key.keyPem), '31'], // unknown merchant
      [sign({ ...good, version: '5.0.0' }, key.keyPem), '10'],
      [sign({ ...good, orderId: 'FORGE-01' }, key.keyPem), '10'], // orderId: letters and digits only
      [sign({ ...good, currencyCode: '840' }, key.keyPem), '10'],
    ];
    for (const [fields, code] of cases) {
      const r = await acpPost(back(), fields);
      expect(r.fields.respCode).toBe(code);
      expect(verifyProblem(r.fields, creds)).toBeUndefined();
    }
    const q = await acpPost(queryUrl(), queryFields('FORGE001', good.txnTime as string));
    expect(q.fields.respCode).toBe('34'); // nothing was opened by the refused requests
  });
});

describe('unionpay sandbox: payments', () => {
  test('QR: apply, unpaid query says 34, payer pays, signed notify retried until 200, query 00/00', async () => {
    const time = txnTime(sb.clock.now);
    const applied = await acpPost(back(), qrApply('QrRetry001', 12345, time));
    expect(applied.fields).toMatchObject({ respCode: '00', txnType: '01', txnSubType: '07' });
    expect(applied.fields.qrCode).toBe(`${sb.base}/pay/unionpay/${creds.mer_id}/QrRetry001`);
    expect((await acpPost(queryUrl(), queryFields('QrRetry001', time))).fields.respCode).toBe('34');

    const paid = await post(applied.fields.qrCode as string, { outcome: 'pay' });
    expect(await paid.json()).toMatchObject({ status: 'SUCCESS' });
    const got = await notifiesOf('QrRetry001', 2);
    expect(got.length).toBe(2); // the merchant's 500 made UnionPay try again
    const n = got[1] as Fields;
    expect(n).toMatchObject({ respCode: '00', txnType: '01', txnSubType: '07', bizType: '000000', merId: creds.mer_id, orderId: 'QrRetry001', txnTime: time, txnAmt: '12345', currencyCode: '156' });
    expect(n.queryId).toMatch(/^\d{21}$/);
    expect(verifyProblem(n, creds)).toBeUndefined();
    expect(verifyProblem({ ...n, txnAmt: '1' }, creds)).toBe('signature');

    const q = await acpPost(queryUrl(), queryFields('QrRetry001', time));
    expect(q.fields).toMatchObject({ respCode: '00', origRespCode: '00', queryId: n.queryId, txnAmt: '12345', orderId: 'QrRetry001' });
    expect(verifyProblem(q.fields, creds)).toBeUndefined();
    // orderId and txnTime together name an order: another txnTime finds nothing.
    expect((await acpPost(queryUrl(), queryFields('QrRetry001', txnTime(sb.clock.now - 60_000)))).fields.respCode).toBe('34');

    await Bun.sleep(30);
    const rec = (await (await fetch(`${sb.base}/trades/unionpay/${creds.mer_id}/QrRetry001`)).json()) as { notify: { delivered: number; attempts: number } };
    expect(rec.notify).toMatchObject({ delivered: 1, attempts: 2 });
  });

  test('the same QR request again returns the same code; the orderId with other content is 12 重复交易', async () => {
    const time = txnTime(sb.clock.now);
    const a = await acpPost(back(), qrApply('QrSame0001', 500, time));
    const b = await acpPost(back(), qrApply('QrSame0001', 500, time));
    expect(b.fields.qrCode).toBe(a.fields.qrCode as string);
    expect((await acpPost(back(), qrApply('QrSame0001', 501, time))).fields.respCode).toBe('12');
  });

  test('web: the posted form lands on the pay page; Pay posts the signed result to frontUrl and notifies backUrl', async () => {
    const time = txnTime(sb.clock.now);
    const form = sign({ ...envelope(creds, key), txnType: '01', txnSubType: '01', bizType: '000201', channelType: '07', orderId: 'Web00001', txnTime: time, txnAmt: '8800', currencyCode: '156', backUrl: receiver.url, frontUrl: 'http://shop.example/return', payTimeout: txnTime(sb.clock.now + 15 * 60_000) }, key.keyPem);
    const res = await acpPost(front(), form);
    expect(res.status).toBe(302);
    const payPage = `${sb.base}/pay/unionpay/${creds.mer_id}/Web00001`;
    expect(res.location).toBe(payPage);
    const landed = await fetch(payPage); // the browser follows the redirect with GET
    const html = await landed.text();
    expect(html).toContain('88.00');
    expect(html).toContain('UnionPay');

    const pressed = await fetch(payPage, { method: 'POST', body: new URLSearchParams({ outcome: 'pay' }) });
    const handback = formInputs(await pressed.text());
    expect(handback.action).toBe('http://shop.example/return');
    expect(handback.fields).toMatchObject({ respCode: '00', orderId: 'Web00001', txnAmt: '8800', txnType: '01', txnSubType: '01', bizType: '000201' });
    expect(verifyProblem(handback.fields, creds)).toBeUndefined();

    const [n] = await notifiesOf('Web00001', 1);
    expect(n).toMatchObject({ respCode: '00', orderId: 'Web00001', queryId: handback.fields.queryId });
    expect(verifyProblem(n as Fields, creds)).toBeUndefined();
  });

  test('web: a bad signature shows UnionPay\'s error page and opens nothing', async () => {
    const form = sign({ ...envelope(creds, key), txnType: '01', txnSubType: '01', bizType: '000201', channelType: '07', orderId: 'Web00002', txnTime: txnTime(sb.clock.now), txnAmt: '100', currencyCode: '156', backUrl: receiver.url }, key.keyPem);
    const res = await acpPost(front(), { ...form, txnAmt: '1' });
    expect(res.status).toBe(400);
    expect(res.text).toContain('11');
    expect((await fetch(`${sb.base}/pay/unionpay/${creds.mer_id}/Web00002`)).status).toBe(404);
  });

  test('a declined card answers origRespCode 60 and sends no back notify; the order lapses at payTimeout', async () => {
    const time = txnTime(sb.clock.now);
    const applied = await acpPost(back(), qrApply('Declined01', 300, time));
    const failed = await post(applied.fields.qrCode as string, { outcome: 'fail' });
    expect(await failed.json()).toMatchObject({ status: 'FAILED' });
    const q = await acpPost(queryUrl(), queryFields('Declined01', time));
    expect(q.fields).toMatchObject({ respCode: '00', origRespCode: '60' });

    const lapsing = sign({ ...qrApply('Lapse00001', 300, time), payTimeout: txnTime(sb.clock.now + 60_000), signature: '' }, key.keyPem);
    const lapsed = await acpPost(back(), lapsing);
    expect(lapsed.fields.respCode).toBe('00');
    sb.clock.now += 2 * 60_000;
    const late = await post(lapsed.fields.qrCode as string, { outcome: 'pay' });
    expect(late.status).toBe(409);
    expect((await acpPost(queryUrl(), queryFields('Lapse00001', time))).fields.respCode).toBe('34');
    await Bun.sleep(50);
    expect(notified.filter((f) => f.orderId === 'Declined01' || f.orderId === 'Lapse00001')).toEqual([]);
  });
});

describe('unionpay sandbox: refunds and undo', () => {
  test('partial then full refund (04): accepted, notified, queryable; beyond the rest and a reused orderId refused', async () => {
    const { queryId } = await paidQr('RefundPay1', 1000);
    const r1 = giveBack('04', queryId, 'Refund0001', 400);
    const a1 = await acpPost(back(), r1);
    expect(a1.fields).toMatchObject({ respCode: '00', origQryId: queryId, txnType: '04' });
    expect(verifyProblem(a1.fields, creds)).toBeUndefined();
    const [n1] = await notifiesOf('Refund0001', 1);
    expect(n1).toMatchObject({ respCode: '00', txnType: '04', origQryId: queryId, txnAmt: '400', queryId: a1.fields.queryId });
    expect(verifyProblem(n1 as Fields, creds)).toBeUndefined();
    const q1 = await acpPost(queryUrl(), queryFields('Refund0001', r1.txnTime as string));
    expect(q1.fields).toMatchObject({ respCode: '00', origRespCode: '00', txnType: '04', txnAmt: '400' });

    expect((await acpPost(back(), giveBack('04', queryId, 'Refund0002', 601))).fields.respCode).toBe('36');
    expect((await acpPost(back(), giveBack('04', queryId, 'Refund0001', 100))).fields.respCode).toBe('12');
    expect((await acpPost(back(), giveBack('04', queryId, 'Refund0003', 600))).fields.respCode).toBe('00');
    expect((await acpPost(back(), giveBack('04', queryId, 'Refund0004', 1))).fields.respCode).toBe('36');
    expect((await acpPost(back(), giveBack('04', '000000000000000000000', 'Refund0005', 1))).fields.respCode).toBe('35');
  });

  test('a refund or undo names its consume\'s product (QR 000000, web 000201): another bizType is refused 36 and gives nothing back', async () => {
    const qr = await paidQr('ProductQr1', 500);
    expect((await acpPost(back(), giveBack('04', qr.queryId, 'ProdRfd001', 500, '000201'))).fields.respCode).toBe('36');
    expect((await acpPost(back(), giveBack('31', qr.queryId, 'ProdRfd002', 500, '000201'))).fields.respCode).toBe('36');
    const qrRefund = giveBack('04', qr.queryId, 'ProdRfd003', 500);
    expect((await acpPost(back(), qrRefund)).fields.respCode).toBe('00');
    expect((await acpPost(queryUrl(), queryFields('ProdRfd003', qrRefund.txnTime as string))).fields).toMatchObject({ origRespCode: '00', bizType: '000000', txnAmt: '500' });

    const web = await paidWeb('ProductWb1', 500);
    expect((await acpPost(back(), giveBack('04', web.queryId, 'ProdRfd004', 500, '000000'))).fields.respCode).toBe('36');
    const webRefund = giveBack('04', web.queryId, 'ProdRfd005', 500, '000201');
    expect((await acpPost(back(), webRefund)).fields.respCode).toBe('00');
    const [n] = await notifiesOf('ProdRfd005', 1);
    expect(n).toMatchObject({ respCode: '00', txnType: '04', bizType: '000201', txnAmt: '500' });
  });

  test('consume undo (31) voids a same-day payment in full, and not after a refund', async () => {
    const paid = await paidQr('UndoPay001', 700);
    expect((await acpPost(back(), giveBack('31', paid.queryId, 'Undo000001', 699))).fields.respCode).toBe('36');
    const undo = await acpPost(back(), giveBack('31', paid.queryId, 'Undo000002', 700));
    expect(undo.fields).toMatchObject({ respCode: '00', txnType: '31' });
    expect((await acpPost(back(), giveBack('04', paid.queryId, 'Undo000003', 1))).fields.respCode).toBe('36');

    const other = await paidQr('UndoPay002', 700);
    expect((await acpPost(back(), giveBack('04', other.queryId, 'Undo000004', 100))).fields.respCode).toBe('00');
    expect((await acpPost(back(), giveBack('31', other.queryId, 'Undo000005', 700))).fields.respCode).toBe('35');
  });
});

describe('unionpay sandbox: faults', () => {
  test('processing_queries: the next N queries answer origRespCode 05, then the truth', async () => {
    const { time } = await paidQr('Processing', 200);
    const put = await fetch(`${sb.base}/faults/unionpay/${creds.mer_id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ processing_queries: 2 }) });
    expect(put.status).toBe(200);
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) codes.push((await acpPost(queryUrl(), queryFields('Processing', time))).fields.origRespCode as string);
    expect(codes).toEqual(['05', '05', '00']);
    await fetch(`${sb.base}/faults/unionpay/${creds.mer_id}`, { method: 'DELETE' });
  });

  test('api_error_rate answers 503; duplicate_notify repeats the notify; drop_notify_rate drops every attempt', async () => {
    const faults = (body: unknown) => fetch(`${sb.base}/faults/unionpay/${creds.mer_id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await faults({ api_error_rate: 1 });
    expect((await acpPost(back(), qrApply('Outage0001', 100))).status).toBe(503);

    await faults({ duplicate_notify: 2 });
    await paidQr('Twice00001', 100);
    expect((await notifiesOf('Twice00001', 2)).length).toBe(2);

    await faults({ drop_notify_rate: 1 });
    await paidQr('Dropped001', 100);
    await Bun.sleep(150); // three 20 ms retries, all dropped
    const rec = (await (await fetch(`${sb.base}/trades/unionpay/${creds.mer_id}/Dropped001`)).json()) as { notify: { delivered: number; failed: number; lastStatus: string } };
    expect(rec.notify).toMatchObject({ delivered: 0, failed: 1, lastStatus: 'dropped' });
    expect(notified.filter((f) => f.orderId === 'Dropped001')).toEqual([]);
    await fetch(`${sb.base}/faults/unionpay/${creds.mer_id}`, { method: 'DELETE' });
  });

  test('signer: answers and notifies signed by an expired, a wrong-CN or an untrusted certificate, for the verifier to refuse', async () => {
    const expected = { expired: 'validity', wrong_cn: 'cn', untrusted: 'chain' } as const;
    for (const [signer, problem] of Object.entries(expected)) {
      await fetch(`${sb.base}/faults/unionpay/${creds.mer_id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ signer }) });
      const orderId = `Signer${signer.replace('_', '')}`.padEnd(8, '0');
      const applied = await acpPost(back(), qrApply(orderId, 100));
      expect(applied.fields.respCode).toBe('00');
      expect(verifyProblem(applied.fields, creds)).toBe(problem);
      await post(applied.fields.qrCode as string, { outcome: 'pay' });
      const [n] = await notifiesOf(orderId, 1);
      expect(verifyProblem(n as Fields, creds)).toBe(problem);
    }
    const bad = await fetch(`${sb.base}/faults/unionpay/${creds.mer_id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ signer: 'forged' }) });
    expect(bad.status).toBe(400);
    await fetch(`${sb.base}/faults/unionpay/${creds.mer_id}`, { method: 'DELETE' });
    expect(verifyProblem((await acpPost(back(), qrApply('SignerBack', 100))).fields, creds)).toBeUndefined();
  }, 20_000); // three impostor keys are generated on first use
});

describe('unionpay sandbox: state file', () => {
  test('the CA and merchants survive a restart: old credentials still sign and verify', async () => {
    await withTempDir(async (dir) => {
      const statePath = join(dir, 'sandbox.json');
      const first = await startSandbox({ statePath });
      const issued = (await (await post(`${first.base}/unionpay/merchants`, {})).json()) as UnionpayCreds;
      const issuedKey = await openPfx(issued);
      await first.stop();

      const second = await startSandbox({ statePath });
      try {
        // The restarted sandbox listens elsewhere; the merchant keeps its keys and chain.
        const fields = sign({ ...envelope(issued, issuedKey), txnType: '01', txnSubType: '07', bizType: '000000', channelType: '08', orderId: 'Restart001', txnTime: txnTime(), txnAmt: '100', currencyCode: '156', backUrl: receiver.url }, issuedKey.keyPem);
        const r = await acpPost(`${second.base}/unionpay/gateway/api/backTransReq.do`, fields);
        expect(r.fields.respCode).toBe('00');
        expect(verifyProblem(r.fields, issued)).toBeUndefined();
      } finally {
        await second.stop();
      }
    });
  }, 30_000);
});
