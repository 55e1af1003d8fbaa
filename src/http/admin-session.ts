/**
 * Operators' browser sessions and the brake on guessing the admin token. Signing in at
 * /admin/login trades the token, once, for a random session id in an HttpOnly cookie: the
 * token itself never sits in a browser, a leaked cookie dies with its session (expiry, sign-out,
 * or `DELETE /admin/sessions`), and the store keeps only the id's SHA-256.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../store/store.ts';
import { WriteOrderedMap } from '../write-ordered-map.ts';

const session_id_bytes = 32;

const hashOf = (sessionId: string) => createHash('sha256').update(sessionId).digest('hex');

export class AdminSessions {
  constructor(private readonly store: Store, readonly sessionMs: number) {}

  /** A new session's id (the cookie's value). */
  async open(nowMs: number): Promise<string> {
    const id = randomBytes(session_id_bytes).toString('base64url');
    await this.store.insertAdminSession({ idHash: hashOf(id), createdAt: nowMs, expiresAt: nowMs + this.sessionMs });
    return id;
  }

  valid(sessionId: string, nowMs: number): Promise<boolean> {
    return this.store.adminSessionValid(hashOf(sessionId), nowMs);
  }

  close(sessionId: string): Promise<void> {
    return this.store.deleteAdminSessions(hashOf(sessionId));
  }

  closeAll(): Promise<void> {
    return this.store.deleteAdminSessions(null);
  }
}

/** Failed admin authentications one address may make in a window before it must wait. */
export const admin_failures_max = 10;
export const admin_failure_window_ms = 15 * 60_000;
/** Addresses remembered; past this the oldest windows are forgotten first. */
const throttled_addresses_max = 10_000;

/**
 * Counts failed sign-ins (and wrong bearer tokens) per source address, in this process: after
 * `admin_failures_max` in a window, that address is refused until the window ends, right or
 * wrong. A 24-character token is beyond guessing anyway; this keeps a guesser from trying.
 */
export class FailedSignIns {
  private readonly windows = new WriteOrderedMap<string, { startedAt: number; failures: number }>();

  /** Seconds this address must wait before trying again; 0 when it may try now. */
  waitS(address: string, nowMs: number): number {
    const window = this.windows.get(address);
    if (!window || nowMs - window.startedAt >= admin_failure_window_ms) return 0;
    return window.failures >= admin_failures_max ? Math.ceil((window.startedAt + admin_failure_window_ms - nowMs) / 1000) : 0;
  }

  fail(address: string, nowMs: number): void {
    const window = this.windows.get(address);
    if (window && nowMs - window.startedAt < admin_failure_window_ms) {
      window.failures++;
      return;
    }
    this.windows.set(address, { startedAt: nowMs, failures: 1 });
    if (this.windows.size > throttled_addresses_max) this.windows.deleteOldest();
  }
}
