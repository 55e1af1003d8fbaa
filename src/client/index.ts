/**
 * `paycenter/client`: the merchant's side of paycenter's API, for Bun and Node 20+, with no
 * dependencies. The reference is docs/api.md.
 */
export { PaycenterClient, client_operations, type ClientOptions, type RetryOptions } from './client.ts';
export { PaycenterError, PaycenterTransportError, type TransportFailure } from './errors.ts';
export { error_codes } from './openapi.generated.ts';
export {
  authorization, notification_tolerance_s, signature, stringToSign, verifyNotification,
  type NotificationRefusal, type SignedRequest, type VerifiedNotification, type VerifyOptions,
} from './signing.ts';
export type * from './types.ts';
