/**
 * The OpenAPI document's frame: its introduction and security schemes, the error answers (one
 * response component per status, referred to by every route that can answer it, never copied),
 * and `describeIn`, which every documented route goes through — its group's tag, security,
 * parameters and errors, then the route's own answers (valibot schemas from answers.ts) and errors.
 */
import { type DescribeRouteOptions, type GenerateSpecOptions, type ResponsesWithResolver, describeRoute, resolver } from 'hono-openapi';
import type { GenericSchema } from 'valibot';
import { error as errorAnswer } from './answers.ts';
import { type ErrorCode, errorStatus } from './errors.ts';

export type ErrorStatus = (typeof errorStatus)[ErrorCode];

/** How a status's answers carry Retry-After: always (429), on some (503: when paycenter is at capacity), or never. */
type RetryAfter = 'always' | 'sometimes' | null;

/** The response component of each status an error can have (errors.ts maps every code to one of these). */
const error_responses = {
  400: { name: 'BadRequest', retryAfter: null },
  401: { name: 'Unauthenticated', retryAfter: null },
  403: { name: 'Forbidden', retryAfter: null },
  404: { name: 'NotFound', retryAfter: null },
  409: { name: 'Conflict', retryAfter: null },
  422: { name: 'Unprocessable', retryAfter: null },
  429: { name: 'RateLimited', retryAfter: 'always' },
  502: { name: 'ChannelError', retryAfter: null },
  503: { name: 'Unavailable', retryAfter: 'sometimes' },
} as const satisfies Record<ErrorStatus, { name: string; retryAfter: RetryAfter }>;

const error_statuses = Object.keys(error_responses).map(Number) as ErrorStatus[];

const codesOf = (status: ErrorStatus) => (Object.keys(errorStatus) as ErrorCode[]).filter((code) => errorStatus[code] === status);

const retryAfterHeader = (required: boolean) => ({
  'Retry-After': { required, description: 'Seconds to wait before sending the same request again', schema: { type: 'integer' as const, minimum: 1 } },
});

function errorResponse(status: ErrorStatus) {
  const { retryAfter } = error_responses[status];
  return {
    description: `The error body; error.code is ${codesOf(status).join(', ')} (docs/api.md "Errors" says what to do about each).`,
    ...(retryAfter ? { headers: retryAfterHeader(retryAfter === 'always') } : {}),
    content: { 'application/json': { schema: resolver(errorAnswer) } },
  };
}

const errorRef = (status: ErrorStatus) => ({ $ref: `#/components/responses/${error_responses[status].name}` });

type Parameter = NonNullable<DescribeRouteOptions['parameters']>[number];
type RouteGroup = { description: string; security?: Array<Record<string, string[]>>; errors: readonly ErrorStatus[]; parameters?: Parameter[] };

const signed = { security: [{ merchantSignature: [] }], errors: [401, 403, 429, 503] } satisfies Partial<RouteGroup>;
const operator = { security: [{ adminToken: [] }], errors: [401, 429, 503] } satisfies Partial<RouteGroup>;

/** The routes' groups (the document's tags): what every route of a group shares. */
const route_groups = {
  payments: { description: 'Payments, refunds and notifications: the signed merchant API.', ...signed },
  balances: { description: 'Payers\' prepaid balances (API.md v1.1), signed like every /v1 route.', ...signed },
  cashier: {
    description: 'The payer\'s cashier page and the JSON routes its script calls, authorized by the token of the payment\'s cashier_url.',
    // A wrong or expired token is the same 404 as an unknown payment.
    errors: [404, 503],
    parameters: [{ in: 'query', name: 't', required: true, schema: { type: 'string' }, description: 'the token of the payment\'s cashier_url' }],
  },
  callbacks: { description: 'Payment channels\' asynchronous notifications, answered in each provider\'s own format.', errors: [] },
  operators: { description: 'Operator routes (Authorization: Bearer $ADMIN_TOKEN, or the console\'s sign-in).', ...operator },
  risk: { description: 'The risk center\'s rules, lists and thresholds (operators).', ...operator },
  operations: { description: 'Liveness, readiness and metrics, for the platform running paycenter.', errors: [] },
} satisfies Record<string, RouteGroup>;

export type RouteGroupName = keyof typeof route_groups;

export type RouteDoc = Omit<DescribeRouteOptions, 'tags' | 'security' | 'responses'> & {
  /** The route's answers other than the error body's (every route has at least one). */
  responses: ResponsesWithResolver;
  /** Error statuses this route answers besides its group's. */
  errors?: readonly ErrorStatus[];
};

/** A route's description in the document: its group's tag, security, parameters and errors, then its own. */
export function describeIn(name: RouteGroupName, { responses, errors = [], parameters = [], ...spec }: RouteDoc) {
  const group: RouteGroup = route_groups[name];
  const statuses = [...new Set([...group.errors, ...errors])].sort((a, b) => a - b);
  return describeRoute({
    tags: [name], ...(group.security ? { security: group.security } : {}), ...spec,
    parameters: [...(group.parameters ?? []), ...parameters],
    // The route's own answers last: a page's 404 (the cashier's) is HTML, not the error body.
    responses: { ...Object.fromEntries(statuses.map((status) => [status, errorRef(status)])), ...responses },
  });
}

/** A JSON answer whose body is `schema` (one of answers.ts). */
export const jsonAnswer = (schema: GenericSchema, description: string) => ({ description, content: { 'application/json': { schema: resolver(schema) } } });

/** A JSON answer that a browser asking for text/html first gets as a page instead. */
export const jsonOrPage = (schema: GenericSchema, description: string) => ({
  description: `${description} A browser (Accept: text/html first) gets an HTML page instead.`,
  content: { 'application/json': { schema: resolver(schema) }, 'text/html': { schema: { type: 'string' as const } } },
});

/** An answer without a body (204). */
export const noContent = (description: string) => ({ description });

/** An answer of text in `mediaType` (a page, a provider's word, metrics). */
export const textAnswer = (mediaType: string, description: string) => ({ description, content: { [mediaType]: { schema: { type: 'string' as const } } } });

/** The document's introduction: the same words as docs/api.md, shortened. */
const api_description = [
  'The signed merchant API (/v1), operator routes and operations of paycenter. For merchants: docs/api.md in the repository, and the typed client paycenter/client.',
  '**Signing**: every /v1 request carries `Authorization: PAYC-HMAC-SHA256 …` (see the merchantSignature scheme).',
  '**Idempotency**: creates are idempotent by merchant_order_no, refunds by refund_no, credits by credit_no, debits by debit_no: after a timeout or a 503, send the same body again with a fresh timestamp and nonce.',
  '**Errors**: every non-2xx answer is the Error schema; unavailable and rate_limited (after Retry-After) are safe to retry with the same request.',
  '**Notifications**: POSTed to notify_url with `Paycenter-Signature: t=…,v1=hex(HMAC_SHA256(secret, t + "." + raw_body))`; verify it in constant time, refuse an old t, de-duplicate by event id, answer 2xx within 10 s. '
    + 'Retried after 1 s, 5 s, 30 s, 2 min, 10 min, 30 min; GET /v1/events lists them, POST /v1/events/{id}/redeliver sends one again.',
].join('\n\n');

/**
 * The 400 hono-openapi adds to every route that validates input: a reference to ours (its own
 * default describes a body paycenter never sends). A 3.1 Reference Object may carry a description.
 */
const validation_error: { $ref: string; description: string } = { ...errorRef(400), description: 'The request is not valid: error.field names what (invalid_request), or an amount (invalid_amount).' };

/** The options openAPIRouteHandler generates the document with. */
export function openApiOptions(publicUrl: string): Partial<GenerateSpecOptions> {
  return {
    documentation: {
      openapi: '3.1.0',
      info: { title: 'paycenter', version: '1', description: api_description },
      servers: [{ url: publicUrl }],
      tags: Object.entries(route_groups).map(([name, group]) => ({ name, description: group.description })),
      components: {
        securitySchemes: {
          merchantSignature: {
            type: 'apiKey', in: 'header', name: 'Authorization',
            description: 'PAYC-HMAC-SHA256 merchant_id="…",timestamp="…",nonce="…",signature="base64(HMAC_SHA256(secret, METHOD\\nPATH_AND_QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n))". '
              + 'METHOD upper case; PATH_AND_QUERY exactly as sent; TIMESTAMP Unix seconds within ±300 s; NONCE 1–64 characters, once per merchant; '
              + 'BODY the raw body ("" for GET); every line ends with \\n. Worked examples: docs/api.md "Signing".',
          },
          adminToken: { type: 'http', scheme: 'bearer' },
        },
        responses: Object.fromEntries(error_statuses.map((status) => [error_responses[status].name, errorResponse(status)])),
      },
    },
    defaultValidationErrorResponse: validation_error,
    // The console's forms post to these from its own pages (CSRF-checked): no API for anyone else.
    exclude: [/^\/admin\/forms\//],
  };
}
