/**
 * bun bench/profile-samples.ts PROFILE.cpuprofile [TOP] — a profile's frames ranked by samples.
 *
 * The benches' BENCH_PROFILE=1 writes each process's profile twice: Bun's Markdown summary and the
 * `.cpuprofile` this reads. The summary's "self time" weighs every sample by the wall-clock gap to
 * the next one, so a frame that was running when its thread lost the core takes the whole wait;
 * on a saturated two-core machine that over-counts some frames several times (docs/benchmarks.md,
 * http "Session 22"). Counted here by samples: each frame's own samples (self) and the samples
 * with the frame anywhere on the stack (total, a recursive frame counted once a sample), both as
 * shares of all samples, the TOP (default 40) of each. Samples still count a thread's waits for a
 * core and the collector's pauses where they fall (http "Session 23"): a share of samples is not
 * a share of CPU.
 */
import * as v from 'valibot';

const call_frame = v.object({ functionName: v.string(), url: v.string(), lineNumber: v.number() });
const profile_schema = v.object({
  nodes: v.array(v.object({ id: v.number(), callFrame: call_frame, children: v.optional(v.array(v.number())) })),
  samples: v.array(v.number()),
});
type Profile = v.InferOutput<typeof profile_schema>;

/** A `.cpuprofile` file's JSON, checked for the parts the counting reads. */
export const parseProfile = (json: unknown): Profile => v.parse(profile_schema, json);

/** A frame's name as the ranking prints it: the function and where it is defined. */
function frameName({ functionName, url, lineNumber }: v.InferOutput<typeof call_frame>): string {
  const where = url === '' ? '' : ` ${url.replace(/^file:\/\//, '').replace(`${process.cwd()}/`, '')}:${lineNumber + 1}`;
  return `${functionName || '(anonymous)'}${where}`;
}

/** Per frame name, the samples it was on top of the stack for (self) and on the stack at all (total). */
export function countSamples(profile: Profile): { self: Map<string, number>; total: Map<string, number>; samples: number } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const hitsOf = new Map<number, number>();
  for (const id of profile.samples) hitsOf.set(id, (hitsOf.get(id) ?? 0) + 1);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, n: number) => map.set(key, (map.get(key) ?? 0) + n);
  for (const [id, hits] of hitsOf) {
    add(self, frameName(byId.get(id)!.callFrame), hits);
    const onStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) onStack.add(frameName(byId.get(at)!.callFrame));
    for (const name of onStack) add(total, name, hits);
  }
  return { self, total, samples: profile.samples.length };
}

function printRanking(title: string, counts: Map<string, number>, samples: number, top: number): void {
  console.log(`\n${title}`);
  const ranked = [...counts].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [name, n] of ranked) console.log(`${((100 * n) / samples).toFixed(1).padStart(6)} %  ${String(n).padStart(7)}  ${name}`);
}

if (import.meta.main) {
  const [file, topArg] = process.argv.slice(2);
  const top = Number(topArg ?? 40);
  if (!file || !Number.isInteger(top) || top < 1) throw new Error('usage: bun bench/profile-samples.ts PROFILE.cpuprofile [TOP, a whole number]');
  const { self, total, samples } = countSamples(parseProfile(await Bun.file(file).json()));
  console.log(`${samples} samples in ${file}`);
  printRanking('by own samples (self):', self, samples, top);
  printRanking('by samples on the stack (total):', total, samples, top);
}
