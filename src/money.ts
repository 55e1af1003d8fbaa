/**
 * Money is an integer count of minor units (fen for CNY) plus its currency.
 * Parsing the API's decimal strings and formatting them back are the only two
 * conversions; channel formats live in each channel's transformers.
 */

/** Minor digits per supported ISO 4217 currency. */
const minorDigitsByCurrency = { CNY: 2, USD: 2, EUR: 2, HKD: 2, JPY: 0 } as const;

export type Currency = keyof typeof minorDigitsByCurrency;
export const currencies = Object.keys(minorDigitsByCurrency) as Currency[];

/** Whether a currency code someone else gave us (a stored row, a channel's report) is one paycenter knows. */
export const isCurrency = (code: string | undefined): code is Currency => code !== undefined && Object.hasOwn(minorDigitsByCurrency, code);

/** The API's ceiling: 100,000,000.00 in major units. */
const amount_major_max = 100_000_000;

/** The major units of an amount: no sign, no leading zero; longer than the ceiling is caught by its value. */
const major_digits = '(0|[1-9][0-9]{0,11})';
const fractionOf = (digits: number) => (digits === 0 ? '' : `\\.([0-9]{${digits}})`);

/**
 * The shape of an amount in any supported currency, for documents (the OpenAPI document's
 * `pattern`): major units, then a point and the minor digits of one of the currencies that have
 * them. parseAmount holds each amount to its own currency's digits, zero and the ceiling.
 */
export const amount_pattern = `^${major_digits}(${[...new Set(Object.values(minorDigitsByCurrency))].filter((d) => d > 0).map(fractionOf).join('|')})?$`;

export type AmountError = { ok: false; error: 'invalid_amount'; message: string };
export type AmountResult = { ok: true; minor: number } | AmountError;

export function minorDigits(currency: Currency): number {
  return minorDigitsByCurrency[currency];
}

function amountError(message: string): AmountError {
  return { ok: false, error: 'invalid_amount', message };
}

/**
 * Parses a positive decimal string with exactly the currency's minor digits
 * ("100.00" CNY, "1500" JPY) into minor units. Rejects signs, exponents,
 * spaces, zero, extra or missing digits, and anything above the ceiling.
 */
export function parseAmount(text: string, currency: Currency): AmountResult {
  const digits = minorDigits(currency);
  const pattern = new RegExp(`^${major_digits}${fractionOf(digits)}$`);
  const match = pattern.exec(text);
  if (!match) {
    const shape = digits === 0 ? 'a whole number' : `a number with exactly ${digits} decimals`;
    return amountError(`amount must be ${shape}, like "${formatAmount(10 ** digits * 100, currency)}"`);
  }
  const minor = Number(match[1]) * 10 ** digits + Number(match[2] ?? '0');
  if (minor <= 0) return amountError('amount must be greater than zero');
  if (minor > amount_major_max * 10 ** digits) {
    return amountError(`amount must not exceed ${formatAmount(amount_major_max * 10 ** digits, currency)}`);
  }
  return { ok: true, minor };
}

/** Formats minor units as the API's decimal string: 10000 CNY → "100.00". */
export function formatAmount(minor: number, currency: Currency): string {
  assertMinor(minor);
  const digits = minorDigits(currency);
  if (digits === 0) return String(minor);
  const scale = 10 ** digits;
  const major = Math.floor(minor / scale);
  const fraction = String(minor % scale).padStart(digits, '0');
  return `${major}.${fraction}`;
}

/**
 * Money for people to read in alerts and logs: "7.00 CNY". What a channel reported may be of a
 * currency paycenter does not know, or no amount at all: then shown as given, in minor units.
 */
export function moneyText(minor: number | undefined, currency: string | undefined): string {
  if (isCurrency(currency) && minor !== undefined && Number.isSafeInteger(minor) && minor >= 0) return `${formatAmount(minor, currency)} ${currency}`;
  return `${minor ?? '?'} (minor units) ${currency ?? '?'}`;
}

/** Minor units are non-negative safe integers; anything else is a bug upstream. */
export function assertMinor(minor: number): void {
  if (!Number.isSafeInteger(minor) || minor < 0) throw new Error(`assertion: not a minor-unit amount: ${minor}`);
}
