import { expect } from 'chai';
import { allocateInput, type Batch } from '../ts/tensor.js';
import { smartTurnV2 } from '../ts/model/v2.js';
import { javascriptPasses, type SamplePasses } from '../ts/lib/samples.js';

const WINDOW = 256_000;
function batchOf(size: number): Batch {
  const inputs = Object.fromEntries(smartTurnV2.inputs.map((spec) => [spec.name, allocateInput(spec, size)]));
  return { size, inputs };
}
const row = <T extends Float32Array | BigInt64Array>(a: T, slot: number): T => a.subarray(slot * WINDOW, (slot + 1) * WINDOW) as T;

describe('smart-turn v2 window', () => {
  it('writes a short clip normalized on the left, zeros and mask 0 on the right, into its own row only', () => {
    const batch = batchOf(2);
    const values = batch.inputs['input_values'] as Float32Array;
    const mask = batch.inputs['attention_mask'] as BigInt64Array;
    values.fill(7);
    mask.fill(7n);
    const clip = smartTurnV2.prepare(Float32Array.from([1, 2, 3, 4]));
    clip.write(batch, 1);
    const r = row(values, 1);
    const std = Math.sqrt(1.25 + 1e-7);
    expect(Array.from(r.subarray(0, 4))).to.deep.equal([-1.5, -0.5, 0.5, 1.5].map((x) => Math.fround(x / std)));
    expect(r.subarray(4).every((x) => x === 0)).to.equal(true);
    expect(Array.from(row(mask, 1).subarray(0, 5))).to.deep.equal([1n, 1n, 1n, 1n, 0n]);
    expect(row(mask, 1).subarray(4).every((x) => x === 0n)).to.equal(true);
    expect(row(values, 0).every((x) => x === 7)).to.equal(true); // untouched
  });

  it('keeps the last 16 s of a longer clip', () => {
    const batch = batchOf(1);
    const samples = Float32Array.from({ length: WINDOW + 1000 }, (_, i) => (i < 1000 ? 100 : i % 2));
    const clip = smartTurnV2.prepare(samples);
    clip.write(batch, 0);
    const values = batch.inputs['input_values'] as Float32Array;
    // The 100s at the start were dropped: what remains alternates 0/1, so normalizes to ±1.
    expect(Math.max(...values.subarray(0, 10))).to.be.closeTo(1, 1e-5);
    expect((batch.inputs['attention_mask'] as BigInt64Array).every((m) => m === 1n)).to.equal(true);
  });

  it('prepares a service\'s clips in line, with the sample passes the service gives it', async () => {
    const used: string[] = [];
    const counting: SamplePasses = {
      implementation: 'javascript',
      sums: (samples) => (used.push('sums'), javascriptPasses.sums(samples)),
      normalize: (...args) => (used.push('normalize'), javascriptPasses.normalize(...args)),
    };
    const preparer = smartTurnV2.startPreparer(counting);
    expect(preparer.windowSamples).to.equal(WINDOW);
    const samples = Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i / 9));
    const clip = preparer.prepare(samples);
    expect(clip).to.not.be.instanceOf(Promise);
    const [a, b] = [batchOf(1), batchOf(1)];
    (clip as Awaited<typeof clip>).write(a, 0);
    expect(used).to.deep.equal(['sums', 'normalize']);
    smartTurnV2.prepare(samples, javascriptPasses).write(b, 0);
    expect(a.inputs['input_values']).to.deep.equal(b.inputs['input_values']);
    await preparer.close();
  });

  it('clears a padding row to silence that attends', () => {
    const batch = batchOf(1);
    (batch.inputs['input_values'] as Float32Array).fill(3);
    smartTurnV2.clear(batch, 0);
    expect((batch.inputs['input_values'] as Float32Array).every((x) => x === 0)).to.equal(true);
    expect((batch.inputs['attention_mask'] as BigInt64Array).every((m) => m === 1n)).to.equal(true);
  });
});
