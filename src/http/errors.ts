/**
 * The one place that maps failures to API.md's error answers. Routes return or throw an
 * ApiError with a code from the table; anything else is a bug or a broken dependency.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export const errorStatus = {
  invalid_request: 400,
  invalid_amount: 400,
  amount_mismatch: 400,
  unsupported_method: 400,
  unauthenticated: 401,
  timestamp_out_of_window: 401,
  replayed_request: 401,
  merchant_disabled: 403,
  not_found: 404,
  order_conflict: 409,
  invalid_state: 409,
  risk_rejected: 422,
  refund_exceeds_paid: 422,
  insufficient_balance: 422,
  no_channel_available: 422,
  rate_limited: 429,
  channel_error: 502,
  unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof errorStatus;

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get status(): ContentfulStatusCode {
    return errorStatus[this.code];
  }
}

export function errorBody(error: ApiError, requestId: string) {
  return { error: { code: error.code, message: error.message, field: error.field, request_id: requestId } };
}
