/**
 * Validation middleware built on hono-openapi's validator (so each schema also lands in the
 * OpenAPI document) with our own failure answer: invalid_request naming the field, never
 * echoing the body.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { validator } from 'hono-openapi';
import * as v from 'valibot';
import { type OutboundPolicy, urlRefusal } from '../net/outbound.ts';
import { ApiError } from './errors.ts';
import { duplicateKeyOf } from './json-keys.ts';

function fieldOf(issue: StandardSchemaV1.Issue): string | null {
  const keys = (issue.path ?? []).map((p) => (typeof p === 'object' && p !== null && 'key' in p ? p.key : p));
  return keys.length > 0 ? keys.map(String).join('.') : null;
}

/**
 * valibot's messages, said the way this API says them: after the field name, which the answer
 * puts first (so schemas' own messages never repeat it), and without the value received.
 */
function messageOf(issue: StandardSchemaV1.Issue): string {
  const { message } = issue;
  if (message.startsWith('Invalid key')) return message.endsWith('received undefined') ? 'is required' : 'is not a known field';
  const type = /^Invalid type: Expected (.+) but received/.exec(message);
  if (type) return `must be ${type[1]}`;
  const bound = /^Invalid (value|length): Expected (>=|<=)(\S+) but received/.exec(message);
  if (bound) return `${bound[1] === 'length' ? 'must have a length of' : 'must be'} ${bound[2] === '>=' ? 'at least' : 'at most'} ${bound[3]}`;
  return message.replace(/^Invalid [a-z ]+: /, '');
}

const failure = (result: { success: boolean; error?: readonly StandardSchemaV1.Issue[] }) => {
  if (result.success) return;
  const issue = result.error?.[0];
  const field = issue ? fieldOf(issue) : null;
  throw new ApiError('invalid_request', `${field ?? 'request'} ${issue ? messageOf(issue) : 'is invalid'}`, field);
};

/** The media types hono's validator reads as JSON; it reads any other body as `{}`. */
const json_media_type = /^application\/([\w.-]+\+)?json$/i;

/** Only the request's headers are read, so the hook leaves each route's own typing alone. */
type WithHeaders = { req: { header(name: string): string | undefined } };

const isJsonRequest = (c: WithHeaders) => json_media_type.test((c.req.header('content-type') ?? '').split(';')[0]!.trim());

/**
 * A body sent as anything but JSON reaches the schema as `{}`; saying which field that lacks
 * would send the caller looking in the wrong place, so the content type is named instead.
 */
const jsonFailure = (result: { success: boolean; error?: readonly StandardSchemaV1.Issue[] }, c: WithHeaders) => {
  if (!isJsonRequest(c)) throw new ApiError('invalid_request', 'body must be JSON (Content-Type: application/json)', 'body');
  failure(result);
};

/**
 * A JSON body that repeats a key in one object is refused before the schema reads it, naming
 * the key: JSON.parse would keep the last one, a merchant's own checks maybe the first. So is one
 * holding a NUL character, naming where (refuseNul).
 */
async function refuseAmbiguousJson(c: WithHeaders & { req: { text(): Promise<string> } }): Promise<void> {
  if (!isJsonRequest(c)) return;
  const text = await c.req.text();
  const duplicate = duplicateKeyOf(text);
  // A body that does not parse is the validator's to refuse ("body is not valid JSON"); parsed only on this rare path.
  if (duplicate && isParsable(text)) throw new ApiError('invalid_request', `${duplicate} appears more than once`, duplicate);
  // JSON writes NUL only as an escape: only a body with one is parsed to find where.
  if (text.includes('\\u0000') && isParsable(text)) refuseNul(JSON.parse(text));
}

/**
 * Where the first NUL (U+0000) is in a value — a string, an object key or anything inside — or
 * null. No text paycenter keeps may hold one: Postgres refuses it in text and JSON columns, and a
 * refused statement fails every write committed with it.
 */
function nulPath(value: unknown, path = ''): string | null {
  if (typeof value === 'string') return value.includes('\0') ? path || 'body' : null;
  if (typeof value !== 'object' || value === null) return null;
  for (const [key, inner] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (key.includes('\0')) return at;
    const found = nulPath(inner, at);
    if (found) return found;
  }
  return null;
}

/** Refuses a request value that holds a NUL, naming where. */
export function refuseNul(value: unknown): void {
  const path = nulPath(value);
  if (path) throw new ApiError('invalid_request', `${path} must not contain the NUL character (U+0000)`, path);
}

const isParsable = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

export const jsonBody = <S extends StandardSchemaV1>(schema: S) => {
  const validate = validator('json', schema, jsonFailure);
  const middleware: typeof validate = async (c, next) => {
    await refuseAmbiguousJson(c);
    return validate(c, next);
  };
  // hono-openapi finds the schema for the document on the middleware itself.
  Object.defineProperty(middleware, 'name', { value: validate.name });
  return Object.assign(middleware, validate);
};

/**
 * Merchant-supplied URLs that paycenter will call or link to, checked against the outbound
 * rules (src/net/outbound.ts); the first refused one is named.
 */
export function requireOutboundUrls(policy: OutboundPolicy, urls: Record<string, string | null | undefined>): void {
  for (const [field, url] of Object.entries(urls)) {
    const refusal = url ? urlRefusal(url, policy) : null;
    if (refusal) throw new ApiError('invalid_request', `${field} ${refusal}`, field);
  }
}
export const queryParams = <S extends StandardSchemaV1>(schema: S) => validator('query', schema, failure);

/**
 * A page's `limit` query parameter: a whole number from 1 to `max`, `fallback` when absent. The
 * query carries it as text; the document describes the number it must spell, since the converter
 * sees only the string before the transform (its pattern is dropped with it).
 */
export const pageLimit = (max: number, fallback: number) => v.pipe(
  v.optional(v.pipe(
    v.string(), v.regex(new RegExp(`^[0-9]{1,${String(max).length}}$`), 'must be a number'), v.transform(Number),
    v.minValue(1, 'must be at least 1'), v.maxValue(max, `must be at most ${max}`),
  ), String(fallback)),
  v.metadata({ type: 'integer', minimum: 1, maximum: max, default: fallback, pattern: undefined }),
);

/**
 * An optional query parameter that may also come empty (`?channel=&date=`, as API.md writes the
 * operator routes' filters and as a form's empty field sends it): empty is taken as absent.
 */
export const optionalParam = <S extends v.GenericSchema>(schema: S) => v.optional(v.pipe(v.unknown(), v.transform(blankIsAbsent), v.optional(schema)));
const blankIsAbsent = (value: unknown) => (value === '' ? undefined : value);

/**
 * A console form's fields (application/x-www-form-urlencoded). Its CSRF token is among them, read
 * by the operator routes' authentication before this: schemas are not strict, so it passes unread.
 */
export const formFields = <S extends StandardSchemaV1>(schema: S) => {
  const validate = validator('form', schema, failure);
  const middleware: typeof validate = async (c, next) => {
    refuseNul(await c.req.parseBody());
    return validate(c, next);
  };
  Object.defineProperty(middleware, 'name', { value: validate.name });
  return Object.assign(middleware, validate);
};
