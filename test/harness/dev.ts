/** `bun dev` (src/main.ts --dev) as a newcomer starts it: in a fresh directory, on a given port, banner read. */
import { join } from 'node:path';

const repo = join(import.meta.dir, '..', '..');

export type Dev = { child: Bun.Subprocess<'ignore', 'pipe', 'inherit'>; id: string; secret: string; banner: string };

/** Starts `bun dev` in `dir` and resolves once its banner (with the demo merchant's secret) is printed. */
export async function startDev(dir: string, port: number, env: Record<string, string> = {}): Promise<Dev> {
  const { TEST_POSTGRES_URL, TEST_REDIS_URL, ...inherited } = process.env;
  const child = Bun.spawn(['bun', join(repo, 'src/main.ts'), '--dev'], {
    cwd: dir, env: { ...inherited, PORT: String(port), LOG_LEVEL: 'warn', MERCHANT_PORT: '0', ...env }, stdin: 'ignore', stdout: 'pipe', stderr: 'inherit',
  });
  const reader = child.stdout.getReader();
  let banner = '';
  while (!banner.includes('a demo order and its cashier URL')) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`bun dev exited: ${banner}`);
    banner += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const [, id, secret] = /demo merchant: (\S+)\s+secret: (\S+)/.exec(banner)!;
  return { child, id: id!, secret: secret!, banner };
}
