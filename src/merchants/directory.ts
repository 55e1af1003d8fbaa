/**
 * Merchants as the API sees them: created by operators, looked up on every signed request.
 * Lookups are cached briefly with the secret already opened, so a request costs no database
 * read and no decryption; an operator's change reaches every process within the cache's life.
 */
import type { RoutingStrategy } from '../routing/strategies.ts';
import { randomBytes, randomInt } from 'node:crypto';
import { pay_methods } from '../channels/plugins.ts';
import type { Clock } from '../clock.ts';
import { Secret, seal, unseal } from '../secrets.ts';
import type { MerchantRow, MerchantStatus, Store } from '../store/store.ts';

export const merchant_cache_ttl_ms = 5_000;
const merchant_cache_entries_max = 10_000;

export type Merchant = {
  id: string;
  name: string;
  secret: Secret;
  notifyUrl: string | null;
  methods: string[];
  status: MerchantStatus;
  routing: RoutingStrategy;
  createdAt: number;
  updatedAt: number;
};

export type NewMerchant = { merchantId?: string; name: string; notifyUrl?: string | null; methods?: string[]; routing?: RoutingStrategy };
export type MerchantChange = { name?: string; notifyUrl?: string | null; methods?: string[]; status?: MerchantStatus; routing?: RoutingStrategy };

/** Every method a merchant may enable: all of every provider plug-in's (a new merchant's default). */
export const all_methods: string[] = pay_methods.map((m) => m.name);

export class MerchantDirectory {
  private readonly cache = new Map<string, { merchant: Merchant | null; until: number }>();

  constructor(private readonly store: Store, private readonly secretKey: Uint8Array, private readonly clock: Clock) {}

  /** Creates a merchant; the secret in the answer is the only time it is ever shown. */
  async create(request: NewMerchant): Promise<{ ok: true; merchant: Merchant } | { ok: false; error: 'exists' }> {
    const now = this.clock.now();
    const secret = `sk_${randomBytes(32).toString('base64url')}`;
    const row: MerchantRow = {
      id: request.merchantId ?? `M${randomInt(10_000_000, 99_999_999)}`, name: request.name, secretEnc: seal(this.secretKey, secret),
      notifyUrl: request.notifyUrl ?? null, methods: request.methods ?? all_methods, status: 'enabled',
      routing: request.routing ?? 'smart', createdAt: now, updatedAt: now,
    };
    if ((await this.store.insertMerchant(row)) === 'exists') return { ok: false, error: 'exists' };
    // A lookup may have cached its absence a moment ago.
    this.cache.delete(row.id);
    return { ok: true, merchant: this.opened(row) };
  }

  async find(merchantId: string): Promise<Merchant | null> {
    const now = this.clock.now();
    const hit = this.cache.get(merchantId);
    if (hit && hit.until > now) return hit.merchant;
    const row = await this.store.loadMerchant(merchantId);
    const merchant = row ? this.opened(row) : null;
    if (this.cache.size >= merchant_cache_entries_max) this.cache.clear();
    this.cache.set(merchantId, { merchant, until: now + merchant_cache_ttl_ms });
    return merchant;
  }

  async update(merchantId: string, change: MerchantChange): Promise<Merchant | null> {
    const row = await this.store.loadMerchant(merchantId);
    if (!row) return null;
    const updated: MerchantRow = {
      ...row, name: change.name ?? row.name, notifyUrl: change.notifyUrl === undefined ? row.notifyUrl : change.notifyUrl,
      methods: change.methods ?? row.methods, status: change.status ?? row.status, routing: change.routing ?? row.routing,
      updatedAt: this.clock.now(),
    };
    await this.store.updateMerchant(updated);
    this.cache.delete(merchantId);
    return this.opened(updated);
  }

  private opened(row: MerchantRow): Merchant {
    return {
      id: row.id, name: row.name, secret: new Secret(unseal(this.secretKey, row.secretEnc)), notifyUrl: row.notifyUrl,
      methods: row.methods, status: row.status, routing: row.routing, createdAt: row.createdAt, updatedAt: row.updatedAt,
    };
  }
}
