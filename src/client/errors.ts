/** What a call can end in besides its answer: the API's error codes, or no usable answer at all. */
import type { ErrorCode } from './openapi.generated.ts';

/** paycenter answered with API.md's error body. `code` is one of the documented codes. */
export class PaycenterError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number,
    readonly field: string | null,
    readonly requestId: string | null,
    /** For `rate_limited` and `unavailable`: the `Retry-After` the server sent, in seconds (null when it sent none). */
    readonly retryAfterS: number | null = null,
  ) {
    super(`${code}: ${message}`);
    this.name = 'PaycenterError';
  }
}

export type TransportFailure = 'network' | 'timeout' | 'unreadable_answer';

/**
 * No API answer: the connection failed, the try timed out, or the answer was not API.md's
 * (a proxy's error page). After a create, pay, refund or credit it is unknown whether the server
 * acted: call again with the same number (the client did, `attempts` times) or read the object.
 */
export class PaycenterTransportError extends Error {
  constructor(readonly kind: TransportFailure, message: string, readonly attempts: number, override readonly cause?: unknown) {
    super(`${kind}: ${message}`);
    this.name = 'PaycenterTransportError';
  }
}
