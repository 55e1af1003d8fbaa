/**
 * Replay protection: a merchant may use a nonce once while a request carrying it could still
 * pass the timestamp check. Kept in Redis with a TTL when configured, otherwise in the store,
 * where claims from many requests share one durable transaction (group commit).
 */
import type Redis from 'ioredis';
import { GroupCommitter, type GroupCommitOptions } from '../../actors/group-commit.ts';
import type { Clock } from '../clock.ts';
import type { NonceClaim, Store } from '../store/store.ts';
import { timestamp_window_s } from './signature.ts';

/** A request is acceptable for ±window around its timestamp, so its nonce must be kept for both sides. */
export const nonce_ttl_ms = 2 * timestamp_window_s * 1000;

export interface NonceGuard {
  /** True when the nonce was free and is now taken; false when it was used before. */
  claim(merchantId: string, nonce: string): Promise<boolean>;
}

export class StoreNonceGuard implements NonceGuard {
  private readonly committer: GroupCommitter<NonceClaim, boolean>;

  constructor(store: Store, private readonly clock: Clock, options: GroupCommitOptions) {
    this.committer = new GroupCommitter((claims) => store.claimNonces(claims, clock.now()), options);
  }

  claim(merchantId: string, nonce: string): Promise<boolean> {
    return this.committer.submit({ merchantId, nonce, expiresAt: this.clock.now() + nonce_ttl_ms });
  }
}

export class RedisNonceGuard implements NonceGuard {
  constructor(private readonly redis: Redis) {}

  async claim(merchantId: string, nonce: string): Promise<boolean> {
    return (await this.redis.set(`nonce:${merchantId}:${nonce}`, '1', 'PX', nonce_ttl_ms, 'NX')) === 'OK';
  }
}
