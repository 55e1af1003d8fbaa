import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { formatAmount, minorDigits, moneyText, parseAmount } from '../src/money.ts';

describe('parseAmount', () => {
  test.each(['100', '1e2', '-1.00', '0.00', '100.001', ' 1.00', '1.00 ', '1.0', '01.00', '', '.50', '1.', '+1.00', '1,000.00', '１.00', '100000000.01', 'NaN', 'Infinity'])(
    'CNY %p is invalid_amount',
    (text) => {
      expect(parseAmount(text, 'CNY')).toMatchObject({ ok: false, error: 'invalid_amount' });
    },
  );

  test.each([
    ['0.01', 1],
    ['1.00', 100],
    ['100.00', 10_000],
    ['100000000.00', 10_000_000_000],
  ])('CNY %p is %p fen', (text, minor) => {
    expect(parseAmount(text, 'CNY')).toEqual({ ok: true, minor });
  });

  test('JPY has no minor digits', () => {
    expect(parseAmount('1500', 'JPY')).toEqual({ ok: true, minor: 1500 });
    expect(parseAmount('1500.00', 'JPY').ok).toBe(false);
    expect(parseAmount('0', 'JPY').ok).toBe(false);
  });

  test('format and parse are inverse for every valid amount', () => {
    fc.assert(
      fc.property(fc.constantFrom('CNY', 'USD', 'JPY'), fc.double({ min: 0, max: 1, noNaN: true }), (currency, share) => {
        const ceiling = 100_000_000 * 10 ** minorDigits(currency);
        const minor = Math.max(1, Math.round(share * ceiling));
        expect(parseAmount(formatAmount(minor, currency), currency)).toEqual({ ok: true, minor });
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('formatAmount', () => {
  test('pads fen and refuses what is not minor units', () => {
    expect(formatAmount(5, 'CNY')).toBe('0.05');
    expect(formatAmount(0, 'CNY')).toBe('0.00');
    expect(formatAmount(1500, 'JPY')).toBe('1500');
    expect(() => formatAmount(1.5, 'CNY')).toThrow('assertion');
    expect(() => formatAmount(-1, 'CNY')).toThrow('assertion');
  });
});

describe('moneyText', () => {
  test('reads as money where the currency is known, as given otherwise', () => {
    expect(moneyText(700, 'CNY')).toBe('7.00 CNY');
    expect(moneyText(1500, 'JPY')).toBe('1500 JPY');
    expect(moneyText(700, 'XBT')).toBe('700 (minor units) XBT');
    expect(moneyText(undefined, undefined)).toBe('? (minor units) ?');
    expect(moneyText(-5, 'CNY')).toBe('-5 (minor units) CNY');
  });
});
