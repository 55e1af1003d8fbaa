/**
 * WeChat Pay API v3 signatures: requests carry `Authorization: WECHATPAY2-SHA256-RSA2048 …`
 * signed with the merchant's key over `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`; answers and
 * notifies are signed with the platform key over `TIMESTAMP\nNONCE\nBODY\n`, named by the
 * `Wechatpay-*` headers; notify resources are AEAD_AES_256_GCM with the APIv3 key.
 */
import { createDecipheriv, randomBytes } from 'node:crypto';
import { rsaSign, rsaVerify } from '../rsa.ts';

export type MerchantKey = { mchid: string; serialNo: string; privateKey: string };

/** The Authorization header for one request; `url` is the path and query from `/v3/…`. */
export async function authorization(key: MerchantKey, method: string, url: string, body: string, nowMs: number, nonce = randomBytes(16).toString('hex')): Promise<string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  const signature = await rsaSign(key.privateKey, `${method}\n${url}\n${timestamp}\n${nonce}\n${body}\n`);
  return `WECHATPAY2-SHA256-RSA2048 mchid="${key.mchid}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${key.serialNo}"`;
}

export type Platform = { serial: string; publicKey: string };

/** How far a signed answer's or notify's timestamp may be from our clock. */
const signature_age_max_s = 300;

/**
 * Checks the `Wechatpay-*` headers over a body with the platform key its serial names; returns
 * why it fails, or null when it verifies.
 * `header` looks a header up case-insensitively.
 */
export async function platformSignatureProblem(platforms: readonly Platform[], header: (name: string) => string | undefined, body: string, nowMs: number): Promise<string | null> {
  const timestamp = header('wechatpay-timestamp');
  const nonce = header('wechatpay-nonce');
  const signature = header('wechatpay-signature');
  const serial = header('wechatpay-serial');
  if (!timestamp || !nonce || !signature || !serial) return 'Wechatpay-Timestamp, -Nonce, -Signature and -Serial are required';
  const platform = platforms.find((p) => p.serial === serial);
  if (!platform) return `signed with platform certificate ${serial}, expected ${platforms.map((p) => p.serial).join(' or ')}`;
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(Number(timestamp) - nowMs / 1000) > signature_age_max_s) return 'Wechatpay-Timestamp is out of window';
  return (await rsaVerify(platform.publicKey, `${timestamp}\n${nonce}\n${body}\n`, signature)) ? null : 'signature does not verify';
}

export type EncryptedResource = { algorithm: string; ciphertext: string; nonce: string; associated_data?: string };

/** Decrypts a notify resource (the 16-byte GCM tag is appended to the ciphertext); null when it does not authenticate. */
export function decryptResource(apiv3Key: string, resource: EncryptedResource): string | null {
  if (resource.algorithm !== 'AEAD_AES_256_GCM') return null;
  try {
    const data = Buffer.from(resource.ciphertext, 'base64');
    if (data.length < 17) return null;
    const decipher = createDecipheriv('aes-256-gcm', Buffer.from(apiv3Key, 'utf8'), Buffer.from(resource.nonce, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - 16));
    decipher.setAAD(Buffer.from(resource.associated_data ?? '', 'utf8'));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/** The parameters a JSAPI page hands to WeixinJSBridge, signed with the merchant key. */
export async function jsapiParams(appId: string, prepayId: string, privateKey: string, nowMs: number): Promise<Record<string, string>> {
  const timeStamp = String(Math.floor(nowMs / 1000));
  const nonceStr = randomBytes(16).toString('hex');
  const pkg = `prepay_id=${prepayId}`;
  return { appId, timeStamp, nonceStr, package: pkg, signType: 'RSA', paySign: await rsaSign(privateKey, `${appId}\n${timeStamp}\n${nonceStr}\n${pkg}\n`) };
}
