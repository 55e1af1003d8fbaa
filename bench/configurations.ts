/**
 * What every bench does with its configurations: say up front which servers they need and how
 * to install a missing one, run each that can run, print its RESULT line the moment it is
 * measured (a later configuration that fails cannot lose an earlier one's figures), and exit
 * non-zero when one was skipped or failed.
 */
import { postgresBinDir, redisServerBinary } from '../test/harness/services.ts';

export type Server = 'redis-server' | 'postgres';

const serverFound: Record<Server, () => boolean> = {
  'redis-server': () => redisServerBinary() !== null,
  postgres: () => postgresBinDir() !== null,
};

const installHint: Record<Server, string> = {
  'redis-server': 'install it with `sudo apt-get install redis-server` (or `brew install redis`) so that redis-server is on PATH',
  postgres: 'install it with `sudo apt-get install postgresql` (its binaries are looked for in /usr/lib/postgresql/N/bin)',
};

export type Configuration = { name: string; needs: Server[]; run: () => Promise<string> };

/** Runs the configurations in order; each RESULT line is printed as soon as it exists. Returns the exit code. */
export async function runConfigurations(bench: string, configurations: Configuration[]): Promise<number> {
  const missing = new Set(configurations.flatMap((c) => c.needs).filter((server) => !serverFound[server]()));
  for (const server of missing) {
    const who = configurations.filter((c) => c.needs.includes(server)).map((c) => c.name).join(', ');
    console.error(`bench ${bench}: ${server} not found — needed by ${who}; ${installHint[server]}. The other configurations still run.`);
  }
  let code = 0;
  for (const configuration of configurations) {
    const absent = configuration.needs.filter((server) => missing.has(server));
    if (absent.length > 0) {
      console.log(`SKIPPED ${bench} ${configuration.name}: needs ${absent.join(', ')}`);
      code = 1;
      continue;
    }
    try {
      console.log(await configuration.run());
    } catch (error) {
      console.log(`FAILED ${bench} ${configuration.name}: ${String((error as Error)?.message ?? error).split('\n')[0]}`);
      console.error(error);
      code = 1;
    }
  }
  return code;
}
