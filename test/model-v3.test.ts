// smart-turn v3 as a service prepares its clips (ts/model/v3.ts); its features themselves are pinned
// in test/mel.test.ts.
import { expect } from 'chai';
import { SAMPLE_RATE } from '../ts/audio.js';
import { FEATURES_PER_CLIP, N_SAMPLES } from '../ts/features/mel.js';
import { javascriptPasses } from '../ts/lib/samples.js';
import { smartTurnV3 } from '../ts/model/v3.js';
import { noise } from './reference/run.js';

const batchOf = () => ({ size: 1, inputs: { input_features: new Float32Array(FEATURES_PER_CLIP) } });

describe('smart-turn v3 preparation (ts/model/v3.ts)', () => {
  it("prepares a service's clips in line with the passes it was given, bit for bit what prepare computes", () => {
    const preparer = smartTurnV3.startPreparer(javascriptPasses);
    const samples = noise(10 * SAMPLE_RATE, 0.2, 5);
    expect(preparer.windowSamples).to.equal(N_SAMPLES);
    const prepared = preparer.prepare(samples);
    expect(prepared).not.to.be.instanceOf(Promise);
    const [a, b] = [batchOf(), batchOf()];
    (prepared as Exclude<typeof prepared, Promise<unknown>>).write(a, 0);
    smartTurnV3.prepare(samples, javascriptPasses).write(b, 0);
    expect(Buffer.from(a.inputs.input_features.buffer).equals(Buffer.from(b.inputs.input_features.buffer))).to.equal(true);
  });
});
