/** bun run bench NAME — runs bench/NAME.ts; each bench ends with its RESULT lines. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const name = process.argv[2];
const benchDir = join(import.meta.dir, '..', 'bench');
/** The benches: files whose doc comment opens with their command (the others are modules they share). */
const isBench = (file: string) => file.endsWith('.ts') && readFileSync(join(benchDir, file), 'utf8').startsWith(`/**\n * bun run bench ${file.slice(0, -3)}`);
const available = readdirSync(benchDir).filter(isBench).map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  console.error(`usage: bun run bench NAME   (NAME one of: ${available.join(', ')})`);
  process.exit(2);
}
// A bench offering a burst holds thousands of requests open at once; Bun's fetch would queue those
// beyond 256 inside the bench (its default), timing the bench's own queue instead of the server.
const env = { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: process.env.BUN_CONFIG_MAX_HTTP_REQUESTS ?? '16384' };
const child = Bun.spawn(['bun', join(benchDir, `${name}.ts`), ...process.argv.slice(3)], { env, stdio: ['inherit', 'inherit', 'inherit'] });
process.exit(await child.exited);
