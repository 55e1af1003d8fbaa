/**
 * One paycenter instance of the multi-process risk test: starts on RISK_DATABASE_URL and
 * RISK_REDIS_URL, prints its URL as one JSON line, and runs until its stdin closes (the test
 * process ending closes it too, so no instance outlives the test).
 */
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { startPaycenter } from '../../src/wiring.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const config = loadConfig({
  PORT: '0', HOST: '127.0.0.1', DATABASE_URL: env('RISK_DATABASE_URL'), REDIS_URL: env('RISK_REDIS_URL'),
  ADMIN_TOKEN: env('RISK_ADMIN_TOKEN'), SECRET_KEY: env('RISK_SECRET_KEY'),
}, 'production');
const paycenter = await startPaycenter(config, { log: createLogger('error') });
console.log(JSON.stringify({ url: paycenter.url }));
for await (const _ of Bun.stdin.stream()) {
  // Nothing is sent; the loop ends when the test closes stdin.
}
await paycenter.stop();
process.exit(0);
