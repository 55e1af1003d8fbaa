/**
 * The paycenter process.
 *   bun dev        (src/main.ts --dev): SQLite under data/, secrets generated once, no Redis needed.
 *   bun run start  production: everything from the environment; migrations applied; nothing seeded.
 */
import { ConfigError, type Config, devSecrets, loadConfig } from './config.ts';
import { join } from 'node:path';
import { seedDemoMerchant, seedRiskRules, seedSandboxChannels } from './dev/seed.ts';
import { type DemoShop, startDemoShop } from './dev/demo-shop.ts';
import { createSandbox } from './sandbox/sandbox.ts';
import { startPaycenter } from './wiring.ts';

const dev = process.argv.includes('--dev');

function configFromEnvironment(): Config {
  const env = dev ? { ...process.env, ...devSecrets('data', process.env) } : process.env;
  try {
    return loadConfig(env, dev ? 'dev' : 'production');
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`paycenter: configuration error: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
}

const config = configFromEnvironment();
// The sandbox keeps its issued keys and trades beside the database, so they outlive restarts.
const sandbox = config.sandbox
  ? createSandbox({ baseUrl: `${config.publicUrl}/sandbox`, ...(dev ? { statePath: join('data', 'sandbox.json') } : {}) })
  : null;
const paycenter = await startPaycenter(config, { mounts: sandbox ? [{ path: '/sandbox', app: sandbox.app }] : [] });
let shop: DemoShop | null = null;
paycenter.log.info('paycenter started', { url: config.publicUrl, store: config.database.kind, redis: config.redisUrls.length, mode: config.mode });
if (dev) {
  if (sandbox) await seedSandboxChannels(paycenter.store, sandbox.app, `${config.publicUrl}/sandbox`, config.secretKey, Date.now());
  const demo = await seedDemoMerchant(paycenter.merchants, 'data');
  await seedRiskRules(paycenter.risk.repo, paycenter.risk.center, Date.now());
  // Empty is unset, as for every variable config.ts reads.
  const shopPort = Number(process.env.MERCHANT_PORT?.trim() || config.port + 1);
  if (!Number.isInteger(shopPort) || shopPort < 0 || shopPort > 65_535) {
    console.error('paycenter: configuration error: MERCHANT_PORT must be a port number (0: any free port)');
    process.exit(2);
  }
  if (demo.secret) shop = await startDemoShop(paycenter.merchants, { publicUrl: config.publicUrl, host: config.host, port: shopPort, merchantId: demo.id, secret: demo.secret });
  console.log([
    '',
    `  paycenter (dev) on ${config.publicUrl}   docs: ${config.publicUrl}/docs`,
    `  store: ${config.databaseUrl}   sandbox: ${sandbox ? `${config.publicUrl}/sandbox` : 'off'}`,
    `  admin token: ${config.adminToken}`,
    `  state chart: ${config.publicUrl}/admin/machines`,
    `  demo merchant: ${demo.id}   secret: ${demo.secret ?? '(not in data/demo-merchant.json; create another merchant with POST /admin/merchants)'}`,
    `  demo shop (the example merchant, receives the notifications): ${shop?.url ?? '(no demo merchant secret)'}`,
    '  a demo order and its cashier URL: bun run demo:order',
    '',
  ].join('\n'));
}

async function shutdown(signal: string): Promise<void> {
  paycenter.log.info('shutting down', { signal, backlog: paycenter.engine.backlog });
  await paycenter.stop();
  await sandbox?.stop();
  await shop?.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
