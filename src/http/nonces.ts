/**
 * Replay protection: a merchant may use a nonce once while a request carrying it could still
 * pass the timestamp check. Kept in Redis with a TTL when configured, otherwise in the store,
 * where claims share durable transactions with order events (group commit).
 */
import type Redis from 'ioredis';
import type { DurableCommitter } from '../../actors/durable-commit.ts';
import type { Clock } from '../clock.ts';
import type { RedisNonce } from '../risk/counters.ts';
import type { NonceClaim } from '../store/store.ts';
import { timestamp_window_s } from './signature.ts';

/** A request is acceptable for ±window around its timestamp, so its nonce must be kept for both sides. */
export const nonce_ttl_ms = 2 * timestamp_window_s * 1000;

/**
 * A create's nonce, claimed by the create's first durable step rather than before its route:
 * with nonces in the store, its order's write (one transaction for both); with nonces in Redis,
 * its risk reservation (one script for both, src/risk/counters-redis.ts), and for a create that
 * reserves nothing, on its own just before its write. `spent` is set once it was claimed or found
 * used; auth.ts claims one still unspent after the route, whatever the route answered.
 */
export type RidingNonce = {
  rides: { with: 'order_write'; claim: NonceClaim } | { with: 'risk_reservation'; nonce: RedisNonce };
  spent: boolean;
  /** Claims it on its own: true when it was free. */
  claim(): Promise<boolean>;
};

export interface NonceGuard {
  /** True when the nonce was free and is now taken; false when it was used before. */
  claim(merchantId: string, nonce: string): Promise<boolean>;
  /** The nonce of a create, to be claimed with the create's first durable step. */
  riding(merchantId: string, nonce: string): RidingNonce;
}

/** Nonces in the store, claimed in the same durable transactions as order events. */
export class StoreNonceGuard implements NonceGuard {
  constructor(private readonly committer: DurableCommitter, private readonly clock: Clock) {}

  claim(merchantId: string, nonce: string): Promise<boolean> {
    return this.committer.claimNonce(this.claimOf(merchantId, nonce));
  }

  riding(merchantId: string, nonce: string): RidingNonce {
    const claim = this.claimOf(merchantId, nonce);
    return { rides: { with: 'order_write', claim }, spent: false, claim: () => this.committer.claimNonce(claim) };
  }

  private claimOf(merchantId: string, nonce: string): NonceClaim {
    return { merchantId, nonce, expiresAt: this.clock.now() + nonce_ttl_ms };
  }
}

export class RedisNonceGuard implements NonceGuard {
  constructor(private readonly redis: Redis) {}

  async claim(merchantId: string, nonce: string): Promise<boolean> {
    return (await this.redis.set(keyOf(merchantId, nonce), '1', 'PX', nonce_ttl_ms, 'NX')) === 'OK';
  }

  riding(merchantId: string, nonce: string): RidingNonce {
    return { rides: { with: 'risk_reservation', nonce: { key: keyOf(merchantId, nonce), ttlMs: nonce_ttl_ms } }, spent: false, claim: () => this.claim(merchantId, nonce) };
  }
}

const keyOf = (merchantId: string, nonce: string): string => `nonce:${merchantId}:${nonce}`;
