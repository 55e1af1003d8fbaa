/** paycenter/client runs on Node 20+ as built for it (`bun run build:client`): it signs and verifies there as on Bun. */
import { expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signature, verifyNotification } from '../../src/client/index.ts';

test('the Node build signs and verifies like the Bun source', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'paycenter-client-'));
  try {
    const built = Bun.spawnSync(['bun', 'build', 'src/client/index.ts', '--target=node', '--outfile', join(dir, 'client.mjs')]);
    expect(built.exitCode).toBe(0);
    const script = `
      import { signature, verifyNotification, PaycenterClient } from ${JSON.stringify(join(dir, 'client.mjs'))};
      const r = { method: 'POST', pathAndQuery: '/v1/payments', timestamp: '1732435200', nonce: 'n1', body: '{}' };
      const v = verifyNotification(process.argv[1], process.argv[2], 'sec', { nowMs: 1732435200000 });
      new PaycenterClient({ baseUrl: 'http://127.0.0.1:1', merchantId: 'M', secret: 's' });
      console.log(JSON.stringify({ signature: signature('sec', r), verified: v.ok }));`;
    const body = '{"id":"evt_1","type":"payment.closed","created_at":"x","data":{}}';
    const header = `t=1732435200,v1=${new Bun.CryptoHasher('sha256', 'sec').update(`1732435200.${body}`).digest('hex')}`;
    const node = Bun.spawnSync(['node', '--input-type=module', '-e', script, body, header]);
    expect(node.stderr.toString()).toBe('');
    expect(JSON.parse(node.stdout.toString())).toEqual({
      signature: signature('sec', { method: 'POST', pathAndQuery: '/v1/payments', timestamp: '1732435200', nonce: 'n1', body: '{}' }),
      verified: verifyNotification(body, header, 'sec', { nowMs: 1732435200000 }).ok,
    });
    expect(verifyNotification(body, header, 'sec', { nowMs: 1732435200000 }).ok).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
