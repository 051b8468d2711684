// ts/audio.ts: the window a model sees and the moments it is normalized with.
import { expect } from 'chai';
import { lastWindow, moments } from '../ts/audio.js';
import { javascriptPasses } from '../ts/lib/samples.js';

describe('audio', () => {
  it('lastWindow: a clip no longer than the window is the clip itself; a longer one loses its beginning', () => {
    const clip = Float32Array.from({ length: 10 }, (_, i) => i);
    expect(lastWindow(clip, 10)).to.equal(clip);
    expect(lastWindow(clip, 11)).to.equal(clip);
    expect(Array.from(lastWindow(clip, 4))).to.deep.equal([6, 7, 8, 9]);
    expect(lastWindow(clip, 4).buffer, 'a view, not a copy').to.equal(clip.buffer);
  });

  it('moments: population mean and 1 / sqrt(variance + epsilon); nothing to measure gives 0 and 1 / sqrt(epsilon)', () => {
    const m = moments(Float32Array.of(1, 2, 3, 4), 1e-7, javascriptPasses);
    expect(m.mean).to.equal(2.5);
    expect(m.invStd).to.be.closeTo(1 / Math.sqrt(1.25 + 1e-7), 1e-12);
    expect(moments(new Float32Array(0), 1e-7, javascriptPasses)).to.deep.equal({ mean: 0, invStd: 1 / Math.sqrt(1e-7) });
    expect(moments(new Float32Array(5).fill(0.3), 1e-7, javascriptPasses).invStd, 'constant audio: epsilon alone').to.be.closeTo(1 / Math.sqrt(1e-7), 1e-3);
  });
});
