/**
 * The facts of a channel's day of records that matching needs, held compactly: each record's key
 * numbered in a KeyTable, and per number its amount, status, kind and whether a line showed it,
 * in typed arrays — about 60 MB for a million records, where the records as objects took about
 * 700 MB (docs/benchmarks.md). Everything else of a record (its order, its flow) is read by id for
 * the few lines that are not plain matches.
 *
 * A day larger than recon_index_records_max is matched in passes: pass `p` of `passes` holds only
 * the records whose key hashes to `p`, and reads only the statement lines whose key does, so
 * every line and record is judged exactly once and the index never holds more than the limit.
 */
import type { ReconFacts, ReconRecord } from '../store/store.ts';
import type { RecordFacts } from './classify.ts';
import { KeyTable, grown, keyHash } from './key-table.ts';

/** Records one pass holds at most by default (about 60 MB of index; ReconOptions.indexRecordsMax). */
export const recon_index_records_max = 1_000_000;

const initial_slots = 1024;
const kinds = ['payment', 'refund'] as const satisfies readonly ReconRecord['kind'][];

/** Which pass a key belongs to (all in one pass when there is one). */
export const passOf = (key: string, passes: number): number => (passes === 1 ? 0 : keyHash(key) % passes);

/** Headroom over an even split: keys hash to passes unevenly, and a pass's share must fit. */
const pass_share_headroom = 1.25;

/** The passes for a day of `records` (a power of two, so each pass's share splits evenly again), more than `tried`. */
export function passesFor(records: number, recordsMax: number, tried: number): number {
  let passes = tried * 2;
  while (passes * recordsMax < records * pass_share_headroom) passes *= 2;
  return passes;
}

export class DayIndex {
  constructor(private readonly recordsMax: number = recon_index_records_max) {}

  private readonly keys = new KeyTable();
  private shownCount = 0;
  /** Status names, each stored once; a slot holds its name's position. */
  private readonly statusNames: string[] = [];
  private amounts = new Float64Array(initial_slots);
  private statuses = new Uint8Array(initial_slots);
  private kindOf = new Uint8Array(initial_slots);
  private shown = new Uint8Array(initial_slots);
  /** Reused for every lookup: the hot path allocates nothing per line. */
  private readonly scratch: RecordFacts = { amount: 0, status: '' };

  /** Adds a record's facts; false when the index is full (the day needs more passes). */
  add(facts: ReconFacts): boolean {
    if (this.keys.size >= this.recordsMax) return false;
    if (this.keys.size === this.amounts.length) this.grow();
    const slot = this.keys.add(facts.key);
    this.amounts[slot] = facts.amount;
    this.statuses[slot] = this.statusCode(facts.status);
    this.kindOf[slot] = kinds.indexOf(facts.kind);
    return true;
  }

  /** The slot of a key no line has shown yet, or -1 (not of this day, or shown before: a repeated line is judged on its own). */
  unshownSlot(key: string): number {
    const slot = this.keys.find(key);
    return slot < 0 || this.shown[slot] === 1 ? -1 : slot;
  }

  /** The slot's facts, in an object reused by the next call. */
  factsAt(slot: number): RecordFacts {
    this.scratch.amount = this.amounts[slot]!;
    this.scratch.status = this.statusNames[this.statuses[slot]!]!;
    return this.scratch;
  }

  markShown(slot: number): void {
    if (this.shown[slot] === 1) return;
    this.shown[slot] = 1;
    this.shownCount++;
  }

  /** The keys of records no line showed, with their kind. */
  *unshown(): Generator<{ key: string; kind: ReconRecord['kind'] }> {
    if (this.shownCount === this.keys.size) return;
    for (let slot = 0; slot < this.keys.size; slot++) if (this.shown[slot] === 0) yield { key: this.keys.keyAt(slot), kind: kinds[this.kindOf[slot]!]! };
  }

  private statusCode(status: string): number {
    let code = this.statusNames.indexOf(status);
    if (code < 0) {
      code = this.statusNames.push(status) - 1;
      // A handful of statuses exist; more than a byte's worth is a bug in the query.
      if (code > 255) throw new Error(`assertion failed: more than 256 record statuses (${status})`);
    }
    return code;
  }

  private grow(): void {
    const size = Math.min(this.amounts.length * 2, this.recordsMax);
    this.amounts = grown(this.amounts, size, (n) => new Float64Array(n));
    this.statuses = grown(this.statuses, size, (n) => new Uint8Array(n));
    this.kindOf = grown(this.kindOf, size, (n) => new Uint8Array(n));
    this.shown = grown(this.shown, size, (n) => new Uint8Array(n));
  }
}
