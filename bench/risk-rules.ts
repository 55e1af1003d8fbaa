/**
 * The 100 enabled rules of mixed kinds both risk benches run with (`bench risk`, `bench http`),
 * and the lists behind the blacklists. Thresholds are out of reach of a bench's payers, so every
 * rule is evaluated (and every counter reserved) while creates still succeed.
 */
export const bench_payers = 1_000;

export type RuleSpec = { code: string; kind: string; action: 'reject' | 'review'; score: number; params: Record<string, unknown> };

export function benchRules(): RuleSpec[] {
  const rules: RuleSpec[] = [];
  const add = (n: number, make: (i: number) => Omit<RuleSpec, 'code'>, prefix: string) => {
    for (let i = 0; i < n; i++) rules.push({ code: `${prefix}_${i}`, ...make(i) });
  };
  const subjects = ['user', 'device', 'ip', 'merchant'];
  add(20, (i) => ({ kind: 'blacklist', action: 'reject', score: 0, params: { subjects: [subjects[i % 4], subjects[(i + 1) % 4]] } }), 'bl');
  add(20, (i) => ({ kind: 'limit', action: 'review', score: 1, params: { subject: ['user', 'device', 'merchant'][i % 3], period: 'single', amount: '1000000.00' } }), 'single');
  add(20, (i) => ({
    kind: 'limit', action: 'reject', score: 0,
    params: { subject: ['user', 'device', 'merchant'][i % 3], period: i % 2 === 0 ? 'day' : 'month', amount: '99999999.00', count: 1_000_000 },
  }), 'period');
  add(20, (i) => ({ kind: 'velocity', action: 'reject', score: 0, params: { subject: ['user', 'device', 'ip'][i % 3], count: 1_000_000, window_s: 60 * (i + 1) } }), 'vel');
  add(10, (i) => ({ kind: 'amount_anomaly', action: 'review', score: 1, params: { factor: 5 + i, min_history: 3 } }), 'amt');
  add(10, () => ({ kind: 'location_anomaly', action: 'review', score: 1, params: { min_history: 3 } }), 'loc');
  return rules;
}

/** List entries none of the bench's payers is on: addresses, v4 and v6 ranges, users, devices. */
export function benchListEntries(): Array<{ subject: string; value: string }> {
  const entries: Array<{ subject: string; value: string }> = [];
  for (let i = 0; i < 1_000; i++) entries.push({ subject: 'user', value: `listed-user-${i}` }, { subject: 'device', value: `listed-device-${i}` });
  for (let i = 0; i < 500; i++) entries.push({ subject: 'ip', value: `198.18.${i % 250}.${(i * 7) % 250}` });
  for (let i = 0; i < 100; i++) entries.push({ subject: 'ip', value: `100.${64 + (i % 60)}.${i}.0/24` });
  for (let i = 0; i < 50; i++) entries.push({ subject: 'ip', value: `2001:db8:${i.toString(16)}::/48` });
  return entries;
}

/** A payer of the bench: one of bench_payers users, each with its device and a public address. */
export function benchPayer(n: number): { user_id: string; device_id: string; client_ip: string } {
  const i = n % bench_payers;
  return { user_id: `payer-${i}`, device_id: `device-${i}`, client_ip: `120.24.${Math.floor(i / 250)}.${i % 250}` };
}
