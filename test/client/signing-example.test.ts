/** docs/api.md's worked signing examples are true: the client and the server both produce exactly what it prints. */
import { expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { authorization, signature, stringToSign, verifyNotification } from '../../src/client/index.ts';
import { notificationSignature, requestSignature } from '../../src/http/signature.ts';

const doc = readFileSync(join(import.meta.dir, '..', '..', 'docs', 'api.md'), 'utf8');

/** The three code blocks after a marker: the inputs, the string to sign (JSON-quoted), the outputs. */
function example(name: string) {
  const after = doc.slice(doc.indexOf(`<!-- signing-example: ${name} -->`));
  const [inputs, quoted, outputs] = [...after.matchAll(/```\n([\s\S]*?)```/g)].slice(0, 3).map((m) => m[1]!);
  const field = (text: string, key: string) => new RegExp(`^${key}:[ ]*(.*)$`, 'm').exec(text!)![1]!.trim();
  return {
    secret: field(inputs!, 'secret'),
    request: { method: field(inputs!, 'method'), pathAndQuery: field(inputs!, 'path'), timestamp: field(inputs!, 'timestamp'), nonce: field(inputs!, 'nonce'), body: field(inputs!, 'body') },
    stringToSign: JSON.parse(quoted!.trim()) as string,
    signature: field(outputs!, 'signature'),
    authorization: field(outputs!, 'Authorization'),
  };
}

for (const name of ['request-1', 'request-2']) {
  test(`docs/api.md ${name}: the string to sign, the signature and the header`, () => {
    const e = example(name);
    expect(stringToSign(e.request)).toBe(e.stringToSign);
    expect(signature(e.secret, e.request)).toBe(e.signature);
    const { method, pathAndQuery, timestamp, nonce, body } = e.request;
    expect(requestSignature(e.secret, method, pathAndQuery, timestamp, nonce, body)).toBe(e.signature);
    expect(authorization('M100001', e.secret, e.request)).toBe(e.authorization);
  });
}

test('docs/api.md notification example: the header paycenter sends, and verifyNotification accepts it', () => {
  const secret = example('request-1').secret;
  const body = /the body\n`([^`]+)`/.exec(doc)![1]!;
  const header = /<!-- signing-example: notification -->\n`Paycenter-Signature: ([^`]+)`/.exec(doc)![1]!;
  expect(notificationSignature(secret, 1732435200, body)).toBe(header);
  const verified = verifyNotification(body, header, secret, { nowMs: 1732435200_000 });
  expect(verified.ok && verified.event.id).toBe('evt_01JDA8XK3F0000000000000000');
});
