/**
 * bench/profile-samples.ts: own and total samples per frame, a recursive frame counted once a
 * sample, and a real profile written by `bun --cpu-prof` ranked with its hot function on top.
 */
import { expect, test } from 'bun:test';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countSamples, parseProfile } from '../../bench/profile-samples.ts';

const frame = (functionName: string) => ({ functionName, url: 'file:///app/x.ts', lineNumber: 0 });

test('a frame owns the samples taken in it and totals those taken anywhere under it, once each', () => {
  // root → outer → inner → outer (recursion) ; root → idle
  const profile = {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 5] },
      { id: 2, callFrame: frame('outer'), children: [3] },
      { id: 3, callFrame: frame('inner'), children: [4] },
      { id: 4, callFrame: frame('outer') },
      { id: 5, callFrame: frame('idle') },
    ],
    samples: [2, 3, 3, 4, 4, 4, 5],
  };
  const { self, total, samples } = countSamples(profile);
  expect(samples).toBe(7);
  expect(self.get('outer /app/x.ts:1')).toBe(1 + 3);
  expect(self.get('inner /app/x.ts:1')).toBe(2);
  // Six samples have outer on the stack; the three inside its recursion count once, not twice.
  expect(total.get('outer /app/x.ts:1')).toBe(6);
  expect(total.get('inner /app/x.ts:1')).toBe(5);
  expect(total.get('(root)')).toBe(7);
});

test('a real profile of a busy function ranks that function first by total samples', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'profile-samples-'));
  try {
    const script = join(dir, 'busy.js');
    writeFileSync(script, 'function busyLoop() { let s = 0; for (let i = 0; i < 3e7; i++) s += Math.sqrt(i); return s; }\nconsole.log(busyLoop());\n');
    const child = Bun.spawn(['bun', '--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-name=busy.cpuprofile', script], { stdout: 'ignore', stderr: 'inherit' });
    expect(await child.exited).toBe(0);
    const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
    expect(file).toBeDefined();
    const { total, samples } = countSamples(parseProfile(await Bun.file(join(dir, file!)).json()));
    expect(samples).toBeGreaterThan(10);
    const [first] = [...total].filter(([name]) => !name.startsWith('(')).sort((a, b) => b[1] - a[1]);
    expect(first?.[0]).toStartWith('busyLoop ');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
