// npm run bench:samples [-- --rounds N]: the per-sample passes of ts/lib/samples.ts (sum and sum of squares,
// the normalized write into a batch row) over 8 s and 16 s of audio, native addon against JavaScript,
// side by side in this process. Prints each pass's time per call for both and their ratio, per round,
// then the range of the ratios over the rounds. Needs the addon (npm run build:native).
import { parseArgs } from 'node:util';
import { javascriptPasses, samplePasses, type SamplePasses } from '../ts/lib/samples.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);
const native = samplePasses('native');

/** Microseconds per call of `pass`, over enough calls to fill about 200 ms, after a warm-up. */
function perCall(pass: () => void): number {
  for (let i = 0; i < 200; i++) pass();
  let calls = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 200) {
    for (let i = 0; i < 20; i++) pass();
    calls += 20;
  }
  return ((performance.now() - t0) * 1000) / calls;
}

function seeded(n: number): Float32Array {
  let s = 12345;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.6);
}

const cases = [8, 16].map((seconds) => ({ seconds, src: seeded(seconds * 16_000), dst: new Float32Array(256_000) }));
const passes: Array<[string, (p: SamplePasses, c: (typeof cases)[number]) => void]> = [
  ['sums', (p, c) => void p.sums(c.src)],
  ['normalize', (p, c) => p.normalize(c.src, c.dst, 0, 0.01, 3.3)],
];

const ratios = new Map<string, number[]>();
for (let round = 1; round <= rounds; round++) {
  for (const c of cases) {
    for (const [name, run] of passes) {
      const js = perCall(() => run(javascriptPasses, c));
      const nat = perCall(() => run(native, c));
      const key = `${name} ${c.seconds} s`;
      ratios.set(key, [...(ratios.get(key) ?? []), js / nat]);
      console.log(`round ${round}  ${key.padEnd(16)} javascript ${js.toFixed(1).padStart(7)} µs  native ${nat.toFixed(1).padStart(7)} µs  ${(js / nat).toFixed(1)}×`);
    }
  }
}
console.log('\nnative speed-up per pass (JavaScript time ÷ native time), range over the rounds:');
for (const [key, r] of ratios) console.log(`  ${key.padEnd(16)} ${Math.min(...r).toFixed(1)}–${Math.max(...r).toFixed(1)}×`);
