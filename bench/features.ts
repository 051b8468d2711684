// npm run bench:features [-- options]: smart-turn v3's Whisper log-mel features per 8 s clip, the
// JavaScript implementation (the fallback where the addon is not built, and the baseline) against the
// native addon's kernel, side by side in one process, round after round, each with its own sample
// passes for the normalization (SAMPLE_PASSES=javascript / native), as the server would run them.
//
//   --rounds N   rounds, each timing both implementations (default 5)
//   --clips N    clips per implementation per round (default 30)
import os from 'node:os';
import { parseArgs } from 'node:util';
import { FEATURES_PER_CLIP, JavascriptLogMel, N_SAMPLES, nativeLogMel, WhisperFeatures } from '../ts/features/mel.js';
import { samplePasses } from '../ts/lib/samples.js';

const { values: o } = parseArgs({
  strict: true,
  options: {
    rounds: { type: 'string', default: '5' },
    clips: { type: 'string', default: '30' },
  },
});
const rounds = Number(o.rounds);
const clips = Number(o.clips);
if (!(Number.isInteger(rounds) && rounds > 0 && Number.isInteger(clips) && clips > 0)) {
  throw new Error(`--rounds and --clips take positive whole numbers, got ${o.rounds} and ${o.clips}`);
}

/** 8 s of a tone under noise: the cost does not depend on the content. */
function clip(seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: N_SAMPLES }, (_, i) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 0.2 * Math.sin(i / 7 + seed) + 0.05 * (s / 2 ** 32 - 0.5);
  });
}

interface Cost {
  wallMs: number;
  cpuMs: number;
}

/** Wall and process CPU time per clip for `count` calls of `work`. */
function cost(count: number, work: (i: number) => void): Cost {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) work(i);
  const wallMs = (performance.now() - t0) / count;
  const { user, system } = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (user + system) / 1000 / count };
}

const range = (xs: number[], digits: number): string => {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (q: number): string => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(digits);
  return `${at(0)}–${at(1)} (median ${at(0.5)})`;
};

const native = nativeLogMel();
if (!native) throw new Error('bench:features compares against the native kernel: build the addon first (npm run build:native)');
const implementations: ReadonlyArray<readonly ['javascript' | 'native', WhisperFeatures]> = [
  ['javascript', new WhisperFeatures(new JavascriptLogMel(), samplePasses('javascript'))],
  ['native', new WhisperFeatures(native, samplePasses('native'))],
];
const inputs = Array.from({ length: 8 }, (_, i) => clip(i + 1));
const out = new Float32Array(FEATURES_PER_CLIP);

console.log(`# bench:features — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}, load average ${os.loadavg()[0]!.toFixed(2)}`);
console.log(`# ms per 8 s clip (normalization + log-mel), wall and process CPU; ${clips} clips per implementation per round`);
for (const [, features] of implementations) {
  for (let i = 0; i < 5; i++) features.compute(inputs[i % inputs.length]!, out); // warm-up: JIT, tables, scratch
}
const results: Record<string, Cost[]> = { javascript: [], native: [] };
for (let round = 1; round <= rounds; round++) {
  const line: string[] = [];
  for (const [choice, features] of implementations) {
    const c = cost(clips, (i) => features.compute(inputs[i % inputs.length]!, out));
    results[choice]!.push(c);
    line.push(`${choice} ${c.wallMs.toFixed(2)} ms (CPU ${c.cpuMs.toFixed(2)})`);
  }
  const [j, n] = [results['javascript']![round - 1]!, results['native']![round - 1]!];
  console.log(`round ${round}: ${line.join(', ')}; javascript ÷ native ${(j.wallMs / n.wallMs).toFixed(1)}× (CPU ${(j.cpuMs / n.cpuMs).toFixed(1)}×)`);
}
const of = (name: string, key: keyof Cost): number[] => results[name]!.map((c) => c[key]);
const ratios = (key: keyof Cost): number[] => of('javascript', key).map((j, i) => j / of('native', key)[i]!);
// On a shared machine wall time counts the time other processes held the core; CPU time does not.
console.log(`\njavascript ms per clip: ${range(of('javascript', 'wallMs'), 2)}, CPU ${range(of('javascript', 'cpuMs'), 2)}`);
console.log(`native ms per clip:     ${range(of('native', 'wallMs'), 2)}, CPU ${range(of('native', 'cpuMs'), 2)}`);
console.log(`javascript ÷ native:    ${range(ratios('wallMs'), 1)}×, CPU ${range(ratios('cpuMs'), 1)}×`);

