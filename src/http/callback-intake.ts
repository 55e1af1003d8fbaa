/**
 * How much the open callback route takes in (issue #11 item 1). /callbacks answers anyone, so
 * what it keeps and how fast it keeps it are bounded: per source address and per channel
 * (token buckets far above any provider's notify rate, so a provider's retries get through),
 * and a callback that does not verify keeps only the first bytes of its body.
 */
import { LocalRateLimiter, type RateLimitOptions } from './rate-limit.ts';

export type CallbackIntakeOptions = { perAddress: RateLimitOptions; perChannel: RateLimitOptions };

/** Why a callback was refused without being handed to its channel (the /metrics label). */
export type CallbackRefusal = 'unknown_channel' | 'address_rate_limited' | 'channel_rate_limited' | 'too_large' | 'nul_byte' | 'not_verified';

/** Of a callback that does not verify, this much of the body is kept: enough to see who sent what. */
export const refused_body_bytes_max = 4 * 1024;

/**
 * The two buckets, kept in this process: a flood is refused where it lands, before any I/O,
 * and with several instances each takes its share (the limits are per instance).
 */
export class CallbackIntake {
  private readonly addresses: LocalRateLimiter;
  private readonly channels: LocalRateLimiter;

  constructor(options: CallbackIntakeOptions) {
    this.addresses = new LocalRateLimiter(options.perAddress);
    this.channels = new LocalRateLimiter(options.perChannel);
  }

  async takeAddress(address: string, nowMs: number): Promise<boolean> {
    return (await this.addresses.take(address, nowMs)).ok;
  }

  async takeChannel(code: string, nowMs: number): Promise<boolean> {
    return (await this.channels.take(code, nowMs)).ok;
  }
}

/** The first bytes of a refused callback's body, and a note of how much was dropped (null when kept whole). */
export function keptPrefixOf(body: string): { body: string; note: string | null } {
  const bytes = new TextEncoder().encode(body);
  if (bytes.length <= refused_body_bytes_max) return { body, note: null };
  const kept = new TextDecoder().decode(bytes.subarray(0, refused_body_bytes_max));
  return { body: kept, note: `body kept truncated: first ${refused_body_bytes_max} of ${bytes.length} bytes` };
}
