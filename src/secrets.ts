/**
 * Secrets at rest: merchant signing secrets and channel keys are sealed with SECRET_KEY
 * (AES-256-GCM) before they reach the store, and wrapped in memory so that logging or
 * serializing them prints [redacted].
 */
import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual } from 'node:crypto';

const sealed_version = 'v1';
const iv_bytes = 12;
const tag_bytes = 16;

export function seal(key: Uint8Array, plaintext: string): string {
  const iv = randomBytes(iv_bytes);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${sealed_version}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
}

/** Opens a sealed secret; a wrong key or a tampered value throws (it is a bug or an attack, not input). */
export function unseal(key: Uint8Array, sealed: string): string {
  const opened = openSealed(key, sealed);
  if (opened === null) throw new Error('assertion failed: a sealed secret does not open with SECRET_KEY (another key, or a changed value)');
  return opened;
}

/**
 * Opens a sealed secret, or null when it does not authenticate under `key` (GCM: another key never
 * yields a wrong plaintext) — the start-up check that SECRET_KEY is the key the store was sealed with.
 */
export function openSealed(key: Uint8Array, sealed: string): string | null {
  const [version, payload] = sealed.split(':');
  if (version !== sealed_version || !payload) throw new Error('assertion failed: unknown sealed secret format');
  const raw = Buffer.from(payload, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, iv_bytes));
  decipher.setAuthTag(raw.subarray(iv_bytes, iv_bytes + tag_bytes));
  const body = decipher.update(raw.subarray(iv_bytes + tag_bytes));
  try {
    return Buffer.concat([body, decipher.final()]).toString('utf8');
  } catch {
    // final() is where GCM checks the tag; nothing else in this block throws.
    return null;
  }
}

/** A secret value that never shows itself by accident. */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[redacted]';
  }
}

/** Constant-time comparison of two signatures or tokens (a length mismatch is simply false). */
export function constantTimeEqual(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
