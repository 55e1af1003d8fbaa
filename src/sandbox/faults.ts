// Fault injection per provider account, driven by the reliability tests. Every random choice
// comes from a PRNG seeded by the faults body so that a run replays exactly.
import { seededRandom } from './crypto.ts';
import type { Provider } from './state.ts';
import { type Impostor, impostors } from './unionpay-pki.ts';

export type Faults = {
  drop_notify_rate: number;
  duplicate_notify: number;
  notify_delay_ms: number;
  reorder: boolean;
  api_error_rate: number;
  api_timeout_rate: number;
  /** How long a "timed out" call is held before it is processed anyway (the provider acted after the client gave up). */
  api_timeout_hold_ms: number;
  /** The payer is charged one fen more than the trade asked: a provider that collected another amount. */
  wrong_amount: boolean;
  /** UnionPay: the next N queries answer origRespCode 05 ("accepted, ask again later") whatever the truth. */
  processing_queries: number;
  /** UnionPay: answers and notifies signed with a certificate a verifier must refuse. */
  signer: 'genuine' | Impostor;
  seed: number;
};

export const NO_FAULTS: Faults = {
  drop_notify_rate: 0,
  duplicate_notify: 1,
  notify_delay_ms: 0,
  reorder: false,
  api_error_rate: 0,
  api_timeout_rate: 0,
  api_timeout_hold_ms: 30_000,
  wrong_amount: false,
  processing_queries: 0,
  signer: 'genuine',
  seed: 1,
};


/** Bound on processing_queries: enough for any backoff test, not a way to hang a caller forever. */
const processing_queries_max = 100;

type Entry = { faults: Faults; random: () => number; processingLeft: number };

export type ParseResult = { ok: true; faults: Faults } | { ok: false; error: string };

function rate(v: unknown, name: string): number | string {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) return `${name} must be a number in 0..1`;
  return v;
}

export function parseFaults(body: unknown): ParseResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, error: 'body must be a JSON object' };
  const b = body as Record<string, unknown>;
  const f: Faults = { ...NO_FAULTS };
  for (const key of ['drop_notify_rate', 'api_error_rate', 'api_timeout_rate'] as const) {
    if (b[key] === undefined) continue;
    const r = rate(b[key], key);
    if (typeof r === 'string') return { ok: false, error: r };
    f[key] = r;
  }
  if (b.duplicate_notify !== undefined) {
    const n = b.duplicate_notify;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10) return { ok: false, error: 'duplicate_notify must be an integer 1..10' };
    f.duplicate_notify = n;
  }
  if (b.notify_delay_ms !== undefined) {
    const n = b.notify_delay_ms;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 600_000) return { ok: false, error: 'notify_delay_ms must be an integer 0..600000' };
    f.notify_delay_ms = n;
  }
  for (const key of ['reorder', 'wrong_amount'] as const) {
    if (b[key] === undefined) continue;
    if (typeof b[key] !== 'boolean') return { ok: false, error: `${key} must be a boolean` };
    f[key] = b[key];
  }
  if (b.api_timeout_hold_ms !== undefined) {
    const n = b.api_timeout_hold_ms;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 600_000) return { ok: false, error: 'api_timeout_hold_ms must be an integer 0..600000' };
    f.api_timeout_hold_ms = n;
  }
  if (b.processing_queries !== undefined) {
    const n = b.processing_queries;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > processing_queries_max) return { ok: false, error: `processing_queries must be an integer 0..${processing_queries_max}` };
    f.processing_queries = n;
  }
  if (b.signer !== undefined) {
    const signer = (['genuine', ...impostors] as const).find((k) => k === b.signer);
    if (!signer) return { ok: false, error: `signer must be one of genuine, ${impostors.join(', ')}` };
    f.signer = signer;
  }
  if (b.seed !== undefined) {
    if (typeof b.seed !== 'number' || !Number.isInteger(b.seed)) return { ok: false, error: 'seed must be an integer' };
    f.seed = b.seed;
  }
  return { ok: true, faults: f };
}

export class FaultTable {
  private readonly entries = new Map<string, Entry>();

  set(provider: Provider, account: string, faults: Faults): void {
    this.entries.set(`${provider}:${account}`, { faults, random: seededRandom(faults.seed), processingLeft: faults.processing_queries });
  }

  clear(provider: Provider, account: string): void {
    this.entries.delete(`${provider}:${account}`);
  }

  get(provider: Provider, account: string): Faults {
    return this.entries.get(`${provider}:${account}`)?.faults ?? NO_FAULTS;
  }

  /** True with probability p, drawn from the account's seeded PRNG. */
  chance(provider: Provider, account: string, p: number): boolean {
    if (p <= 0) return false;
    const e = this.entries.get(`${provider}:${account}`);
    if (!e) return false;
    return e.random() < p;
  }

  /** True while the account still owes "processing" answers (processing_queries); counts one down. */
  takeProcessing(provider: Provider, account: string): boolean {
    const e = this.entries.get(`${provider}:${account}`);
    if (!e || e.processingLeft <= 0) return false;
    e.processingLeft -= 1;
    return true;
  }

  random(provider: Provider, account: string): number {
    return this.entries.get(`${provider}:${account}`)?.random() ?? Math.random();
  }
}
