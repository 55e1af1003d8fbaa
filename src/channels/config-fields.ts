/** Schemas of the fields providers' configs share: bounded text, PEM blocks, http(s) URLs. */
import * as v from 'valibot';
import { Secret } from '../secrets.ts';

export const text = (max: number) => v.pipe(v.string(), v.maxLength(max, `must be at most ${max} characters`));

export const pem = v.pipe(v.string(), v.maxLength(8_192), v.regex(/-----BEGIN [A-Z ]+-----/, 'must be a PEM block'));

export const httpUrl = v.pipe(
  v.string(),
  v.maxLength(512, 'must be at most 512 characters'),
  v.check((s) => URL.canParse(s) && ['http:', 'https:'].includes(new URL(s).protocol), 'must be an http(s) URL'),
);

/** A config field that is a key or password: text as operators give it, `Secret` from the parse on. */
export const secret = <S extends v.GenericSchema<string, string>>(schema: S) => v.pipe(schema, v.transform((value: string) => new Secret(value)));
