/**
 * Garbage a reconciliation pass may leave uncollected, bounded by rows instead of by the heap.
 *
 * JavaScriptCore collects once what was allocated since its last collection reaches about what
 * survived it, and a pass's index (typed arrays, about 60 MB for a million records) counts as
 * surviving. A pass makes garbage with every record it reads and every line it parses (the text,
 * its cells, the row: most of a kilobyte a line), so what piled up before a collection grew with
 * the index: the bench's run peaked at about twice what it holds, and over 500 MB one run in
 * three (docs/decisions.md, "Reconciliation's peak memory"). A collection with its sweep every
 * `recon_collect_rows` rows bounds the pile to what those rows make; the sweep matters, since the
 * strings' memory is freed only when their cells are swept.
 */
import { gcAndSweep } from 'bun:jsc';

/** Rows (records read or statement lines parsed) between two collections of a pass: about 20 ms each, 40 for the bench's million lines and records. */
export const recon_collect_rows = 50_000;

export class GarbageBound {
  private rows = 0;

  constructor(
    private readonly everyRows: number = recon_collect_rows,
    /** The collection (the runtime's; a test counts them). */
    private readonly collect: () => void = gcAndSweep,
  ) {}

  /** Counts rows read; collects once `everyRows` have been read since the last collection. */
  read(rows: number): void {
    this.rows += rows;
    if (this.rows < this.everyRows) return;
    this.rows = 0;
    this.collect();
  }
}
