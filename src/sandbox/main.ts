// Runs the sandbox on its own: `bun src/sandbox/main.ts` (PORT, default 4100; SANDBOX_STATE,
// a JSON file that keeps provisioned keys and trades across restarts).
import { Hono } from 'hono';
import { createSandbox } from './sandbox.ts';

const port = Number(process.env.PORT ?? 4100);
const hostname = '127.0.0.1';
const baseUrl = `http://${hostname}:${port}/sandbox`;
const sandbox = createSandbox({ baseUrl, ...(process.env.SANDBOX_STATE ? { statePath: process.env.SANDBOX_STATE } : {}) });
const outer = new Hono();
outer.route('/sandbox', sandbox.app);

const server = Bun.serve({ port, hostname, fetch: outer.fetch });
console.log(`paycenter sandbox listening on ${baseUrl}`);

const shutdown = async () => {
  await sandbox.stop();
  await server.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
