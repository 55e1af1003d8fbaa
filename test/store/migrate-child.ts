/**
 * A process that starts like paycenter does: open the store, migrate, close. For the
 * concurrent-start test: it migrates at the given epoch ms, so its siblings overlap with it.
 */
import { openStore } from '../../src/store/open.ts';

const [url, startAt] = process.argv.slice(2);
if (!url || !startAt) throw new Error('usage: bun migrate-child.ts DATABASE_URL START_AT_MS');
const store = await openStore(url);
await Bun.sleep(Math.max(0, Number(startAt) - Date.now()));
await store.migrate();
await store.close();
