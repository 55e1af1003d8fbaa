/**
 * Validation middleware built on hono-openapi's validator (so each schema also lands in the
 * OpenAPI document) with our own failure answer: invalid_request naming the field, never
 * echoing the body.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { validator } from 'hono-openapi';
import { ApiError } from './errors.ts';

function fieldOf(issue: StandardSchemaV1.Issue): string | null {
  const keys = (issue.path ?? []).map((p) => (typeof p === 'object' && p !== null && 'key' in p ? p.key : p));
  return keys.length > 0 ? keys.map(String).join('.') : null;
}

/** valibot's messages, said the way this API says them. */
function messageOf(issue: StandardSchemaV1.Issue): string {
  const { message } = issue;
  if (message.startsWith('Invalid key')) return message.endsWith('received undefined') ? 'is required' : 'is not a known field';
  const type = /^Invalid type: Expected (.+) but received/.exec(message);
  if (type) return `must be ${type[1]}`;
  return message.replace(/^Invalid [a-z ]+: /, '');
}

const failure = (result: { success: boolean; error?: readonly StandardSchemaV1.Issue[] }) => {
  if (result.success) return;
  const issue = result.error?.[0];
  const field = issue ? fieldOf(issue) : null;
  throw new ApiError('invalid_request', `${field ?? 'request'} ${issue ? messageOf(issue) : 'is invalid'}`, field);
};

export const jsonBody = <S extends StandardSchemaV1>(schema: S) => validator('json', schema, failure);
export const queryParams = <S extends StandardSchemaV1>(schema: S) => validator('query', schema, failure);
