/**
 * A typed client for paycenter's /v1 API. Every call is signed (a fresh timestamp and nonce per
 * try), times out, and is retried with exponential back-off and full jitter when paycenter says
 * `unavailable` or `rate_limited` (waiting at least the `Retry-After` either carries) and on network errors.
 * Retrying is safe: creates, refunds and credits are idempotent by the merchant's number, and the
 * same body is sent on every try, so a retry finds what the first try did.
 */
import { randomBytes } from 'node:crypto';
import { PaycenterError, PaycenterTransportError } from './errors.ts';
import { error_codes, type ErrorCode, type V1Operation } from './openapi.generated.ts';
import { authorization } from './signing.ts';
import type {
  Balance, BalanceEntry, CreatePaymentRequest, CreateRefundRequest, EventsQuery, NotificationEvent, Page, Payment,
  PaidAtCreate, PaymentWithAction, PayRequest, Redelivery, Refund,
} from './types.ts';

export type RetryOptions = {
  /** Tries in all, the first included (default 4; 1 disables retries). */
  attemptsMax?: number;
  /** The first back-off's upper bound; each retry doubles it (default 200 ms). */
  baseDelayMs?: number;
  /** No back-off waits longer, whatever Retry-After says (default 30 s); beyond it the error is thrown. */
  delayMaxMs?: number;
};

export type ClientOptions = {
  /** paycenter's address, e.g. "https://pay.example.com" (no /v1). */
  baseUrl: string;
  merchantId: string;
  secret: string;
  /** Each try's limit (default 35 s: longer than paycenter takes to answer a pay that fails over). */
  timeoutMs?: number;
  retry?: RetryOptions;
  /** Injected for tests and instrumentation; default the global fetch and setTimeout. */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
};

const retryable_codes = new Set<ErrorCode>(['unavailable', 'rate_limited']);
const known_codes = new Set<string>(error_codes);
/**
 * A pay (or a create with `method`) waits for the channel's prepay, and fails over to the next
 * channel when one does not answer: up to three channels of 10 s each at the server. A try that
 * gave up sooner would only be retried into the same wait.
 */
const try_timeout_ms = 35_000;
const attempts_max = 4;
const retry_base_delay_ms = 200;
const retry_delay_max_ms = 30_000;
const nonce_bytes = 12;

type BalanceOperation = (typeof balance_operations)[keyof typeof balance_operations];

/** One call: the operation names its method and path template; `params` fill the template's `{…}`. */
type Call = { operation: V1Operation | BalanceOperation; params?: Record<string, string>; body?: unknown; query?: Record<string, string | number | undefined> };

/** Which client method serves which operation of the OpenAPI document (the drift test reads it). */
export const client_operations = {
  createPayment: 'POST /v1/payments',
  findPayment: 'GET /v1/payments',
  getPayment: 'GET /v1/payments/{id}',
  pay: 'POST /v1/payments/{id}/pay',
  closePayment: 'POST /v1/payments/{id}/close',
  createRefund: 'POST /v1/payments/{id}/refunds',
  listRefunds: 'GET /v1/payments/{id}/refunds',
  getRefund: 'GET /v1/refunds/{id}',
  listEvents: 'GET /v1/events',
  redeliverEvent: 'POST /v1/events/{id}/redeliver',
} as const satisfies Record<string, V1Operation>;

/** API.md v1.1 balances: typed from API.md, and now served, checked against the document. */
export const balance_operations = {
  getBalance: 'GET /v1/balances/{user_id}',
  creditBalance: 'POST /v1/balances/{user_id}/credits',
  debitBalance: 'POST /v1/balances/{user_id}/debits',
  listBalanceEntries: 'GET /v1/balances/{user_id}/entries',
} as const satisfies Record<string, V1Operation>;

export class PaycenterClient {
  private readonly options: Required<Omit<ClientOptions, 'retry'>> & { retry: Required<RetryOptions> };

  constructor(options: ClientOptions) {
    const { retry } = options;
    this.options = {
      baseUrl: options.baseUrl.replace(/\/+$/, ''), merchantId: options.merchantId, secret: options.secret,
      timeoutMs: options.timeoutMs ?? try_timeout_ms,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      random: options.random ?? Math.random,
      retry: {
        attemptsMax: retry?.attemptsMax ?? attempts_max, baseDelayMs: retry?.baseDelayMs ?? retry_base_delay_ms,
        delayMaxMs: retry?.delayMaxMs ?? retry_delay_max_ms,
      },
    };
  }

  /**
   * Creates an order (201), or finds the same one again (200). With `method` it is paid at once and
   * carries `action` — except when a retry finds the order paid, closed, or paying by a method the
   * payer chose since at the cashier (PaidAtCreate).
   */
  createPayment(body: CreatePaymentRequest & { method: string }): Promise<PaidAtCreate>;
  createPayment(body: CreatePaymentRequest): Promise<Payment>;
  createPayment(body: CreatePaymentRequest): Promise<Payment | PaidAtCreate> {
    return this.call({ operation: client_operations.createPayment, body });
  }

  findPayment(merchantOrderNo: string): Promise<Payment> {
    return this.call({ operation: client_operations.findPayment, query: { merchant_order_no: merchantOrderNo } });
  }

  getPayment(paymentId: string): Promise<Payment> {
    return this.call({ operation: client_operations.getPayment, params: { id: paymentId } });
  }

  /**
   * Starts paying. Paying again the same way while the payer has not paid answers the same flow (one
   * trade at the channel); another method starts a new flow and closes the first. Once the order is
   * paid or closed a pay answers 409 invalid_state — also a retry whose first try did pay: read the
   * payment then.
   */
  pay(paymentId: string, body: PayRequest): Promise<PaymentWithAction> {
    return this.call({ operation: client_operations.pay, params: { id: paymentId }, body });
  }

  closePayment(paymentId: string): Promise<Payment> {
    return this.call({ operation: client_operations.closePayment, params: { id: paymentId } });
  }

  createRefund(paymentId: string, body: CreateRefundRequest): Promise<Refund> {
    return this.call({ operation: client_operations.createRefund, params: { id: paymentId }, body });
  }

  listRefunds(paymentId: string): Promise<{ data: Refund[] }> {
    return this.call({ operation: client_operations.listRefunds, params: { id: paymentId } });
  }

  getRefund(refundId: string): Promise<Refund> {
    return this.call({ operation: client_operations.getRefund, params: { id: refundId } });
  }

  listEvents(query: EventsQuery = {}): Promise<Page<NotificationEvent>> {
    return this.call({ operation: client_operations.listEvents, query });
  }

  /** Asks for a notification again (after fixing the endpoint); it arrives with the same id. */
  redeliverEvent(eventId: string): Promise<Redelivery> {
    return this.call({ operation: client_operations.redeliverEvent, params: { id: eventId } });
  }

  getBalance(userId: string): Promise<Balance> {
    return this.call({ operation: balance_operations.getBalance, params: { user_id: userId } });
  }

  creditBalance(userId: string, body: { credit_no: string; amount: string; reason?: string | null }): Promise<BalanceEntry> {
    return this.call({ operation: balance_operations.creditBalance, params: { user_id: userId }, body });
  }

  debitBalance(userId: string, body: { debit_no: string; amount: string; reason?: string | null }): Promise<BalanceEntry> {
    return this.call({ operation: balance_operations.debitBalance, params: { user_id: userId }, body });
  }

  listBalanceEntries(userId: string, query: { after?: string; limit?: number } = {}): Promise<Page<BalanceEntry>> {
    return this.call({ operation: balance_operations.listBalanceEntries, params: { user_id: userId }, query });
  }

  private async call<T>(call: Call): Promise<T> {
    const [method, template] = call.operation.split(' ') as [string, string];
    const path = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(call.params?.[name] ?? ''));
    const query = new URLSearchParams(Object.entries(call.query ?? {}).flatMap(([k, v]): Array<[string, string]> => (v === undefined ? [] : [[k, String(v)]]))).toString();
    const pathAndQuery = query ? `${path}?${query}` : path;
    // One body text for every try: the server's idempotency compares what it receives.
    const body = call.body === undefined ? '' : JSON.stringify(call.body);
    const { attemptsMax } = this.options.retry;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.try(method, pathAndQuery, body, attempt);
      if (outcome.ok) return outcome.value as T;
      const wait = this.backoffMs(attempt, outcome.retryAfterS);
      if (!outcome.retryable || attempt >= attemptsMax || wait === null) throw outcome.error;
      await this.options.sleep(wait);
    }
  }

  /** Full jitter under a doubling bound, and never sooner than Retry-After; null when that is past the limit. */
  private backoffMs(attempt: number, retryAfterS: number | null): number | null {
    const { baseDelayMs, delayMaxMs } = this.options.retry;
    const jittered = Math.floor(this.options.random() * Math.min(delayMaxMs, baseDelayMs * 2 ** (attempt - 1)));
    const floor = retryAfterS === null ? 0 : retryAfterS * 1000;
    return floor > delayMaxMs ? null : Math.max(floor, jittered);
  }

  private async try(method: string, pathAndQuery: string, body: string, attempt: number): Promise<TryOutcome> {
    const { baseUrl, merchantId, secret, timeoutMs } = this.options;
    const signed = { method, pathAndQuery, timestamp: String(Math.floor(Date.now() / 1000)), nonce: randomBytes(nonce_bytes).toString('hex'), body };
    const headers: Record<string, string> = { authorization: authorization(merchantId, secret, signed) };
    if (method !== 'GET') headers['content-type'] = 'application/json';
    let response: Response;
    let text: string;
    try {
      response = await this.options.fetch(baseUrl + pathAndQuery, {
        method, headers, body: method === 'GET' ? undefined : body, signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (cause) {
      const timedOut = cause instanceof Error && (cause.name === 'TimeoutError' || cause.name === 'AbortError');
      const error = new PaycenterTransportError(timedOut ? 'timeout' : 'network', timedOut ? `no answer within ${timeoutMs} ms` : String(cause), attempt, cause);
      return { ok: false, retryable: true, retryAfterS: null, error };
    }
    return answerOf(response, text, attempt);
  }
}

type TryOutcome = { ok: true; value: unknown } | { ok: false; retryable: boolean; retryAfterS: number | null; error: Error };

/** An answer that is not JSON or not API.md's error shape: retried only when the server said 5xx. */
const unreadableOutcome = (response: Response, attempt: number): TryOutcome =>
  ({ ok: false, retryable: response.status >= 500, retryAfterS: null, error: unreadable(response, attempt) });

function answerOf(response: Response, text: string, attempt: number): TryOutcome {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return unreadableOutcome(response, attempt);
  }
  if (response.ok) return { ok: true, value };
  const error = (value as { error?: { code?: unknown; message?: unknown; field?: unknown; request_id?: unknown } } | null)?.error;
  if (!error || typeof error.code !== 'string' || !known_codes.has(error.code)) {
    return unreadableOutcome(response, attempt);
  }
  const code = error.code as ErrorCode;
  const retryAfterS = retryable_codes.has(code) ? retryAfterOf(response) : null;
  const failure = new PaycenterError(
    code, String(error.message ?? ''), response.status, typeof error.field === 'string' ? error.field : null,
    typeof error.request_id === 'string' ? error.request_id : response.headers.get('x-request-id'), retryAfterS,
  );
  return { ok: false, retryable: retryable_codes.has(code), retryAfterS, error: failure };
}

/** The `Retry-After` seconds an answer carries, or null (absent, a date, or nonsense). */
function retryAfterOf(response: Response): number | null {
  const header = response.headers.get('retry-after');
  const seconds = header === null || header.trim() === '' ? Number.NaN : Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}

const unreadable = (response: Response, attempt: number) =>
  new PaycenterTransportError('unreadable_answer', `HTTP ${response.status} without API.md's error body`, attempt);
