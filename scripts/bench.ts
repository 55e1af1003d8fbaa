/** bun run bench NAME — runs bench/NAME.ts; each bench ends with its RESULT lines. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const name = process.argv[2];
const benchDir = join(import.meta.dir, '..', 'bench');
const available = readdirSync(benchDir).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
if (!name || !existsSync(join(benchDir, `${name}.ts`))) {
  console.error(`usage: bun run bench NAME   (NAME one of: ${available.join(', ')})`);
  process.exit(2);
}
const child = Bun.spawn(['bun', join(benchDir, `${name}.ts`), ...process.argv.slice(3)], { stdio: ['inherit', 'inherit', 'inherit'] });
process.exit(await child.exited);
