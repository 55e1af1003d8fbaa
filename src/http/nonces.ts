/**
 * Replay protection: a merchant may use a nonce once while a request carrying it could still
 * pass the timestamp check. Kept in Redis with a TTL when configured, otherwise in the store,
 * where claims share durable transactions with order events (group commit).
 */
import type Redis from 'ioredis';
import type { DurableCommitter } from '../../actors/durable-commit.ts';
import type { Clock } from '../clock.ts';
import type { NonceClaim } from '../store/store.ts';
import { timestamp_window_s } from './signature.ts';

/** A request is acceptable for ±window around its timestamp, so its nonce must be kept for both sides. */
export const nonce_ttl_ms = 2 * timestamp_window_s * 1000;

export interface NonceGuard {
  /** True when the nonce was free and is now taken; false when it was used before. */
  claim(merchantId: string, nonce: string): Promise<boolean>;
  /**
   * The claim as a record that an order's creation carries into its own durable write, when
   * this guard keeps nonces in the store; null when claims are made elsewhere (Redis).
   */
  riding(merchantId: string, nonce: string): NonceClaim | null;
}

/** Nonces in the store, claimed in the same durable transactions as order events. */
export class StoreNonceGuard implements NonceGuard {
  constructor(private readonly committer: DurableCommitter, private readonly clock: Clock) {}

  claim(merchantId: string, nonce: string): Promise<boolean> {
    return this.committer.claimNonce(this.riding(merchantId, nonce));
  }

  riding(merchantId: string, nonce: string): NonceClaim {
    return { merchantId, nonce, expiresAt: this.clock.now() + nonce_ttl_ms };
  }
}

export class RedisNonceGuard implements NonceGuard {
  constructor(private readonly redis: Redis) {}

  async claim(merchantId: string, nonce: string): Promise<boolean> {
    return (await this.redis.set(`nonce:${merchantId}:${nonce}`, '1', 'PX', nonce_ttl_ms, 'NX')) === 'OK';
  }

  riding(): null {
    return null;
  }
}
