// smart-turn v2: wav2vec2-base with attention pooling, fed raw 16 kHz audio.
//
// Preprocessing matches upstream's `Wav2Vec2Processor(audio, padding="max_length", max_length=16000*16,
// return_attention_mask=True)` (pipecat-ai/smart-turn `onnx/inference.py`, `predict_endpoint`):
// zero-mean/unit-variance over the real samples (`do_normalize`, epsilon 1e-7), zeros on the right with
// attention_mask 0 over them. Upstream truncates from the end; we keep the last 16 s instead, since the
// end of the turn is what the model is asked about.
import { lastWindow, moments, SAMPLE_RATE, writeNormalized } from '../audio.js';
import { samplePasses, type SamplePasses } from '../lib/samples.js';
import type { Batch } from '../tensor.js';
import type { Clip, ModelFamily, Preparer } from './family.js';

const WINDOW = 16 * SAMPLE_RATE;
const EPSILON = 1e-7;

function rows(batch: Batch): { values: Float32Array; mask: BigInt64Array } {
  return {
    values: batch.inputs['input_values'] as Float32Array,
    mask: batch.inputs['attention_mask'] as BigInt64Array,
  };
}

// Valid length last written to each row of a batch, by mask array; -1: not known (new, or cleared).
// The mask row is 2 MB of int64 and padding up to 1 MB of zeros: a reused batch row only needs the
// span between its previous and its new length rewritten, which for full 16 s clips is nothing.
// Sound because only this family writes these buffers (backends only read them) and a new buffer
// starts as unknown.
const written = new WeakMap<BigInt64Array, Int32Array>();

function lengths(mask: BigInt64Array): Int32Array {
  let known = written.get(mask);
  if (!known) {
    known = new Int32Array(mask.length / WINDOW).fill(-1);
    written.set(mask, known);
  }
  return known;
}

export const smartTurnV2: ModelFamily = {
  id: 'smart-turn-v2',
  windowSamples: WINDOW,
  inputs: [
    { name: 'input_values', type: 'float32', shape: [WINDOW] },
    { name: 'attention_mask', type: 'int64', shape: [WINDOW] },
  ],

  prepare(samples: Float32Array, passes: SamplePasses = samplePasses()): Clip {
    const window = lastWindow(samples, WINDOW);
    const m = moments(window, EPSILON, passes);
    return {
      write(batch: Batch, slot: number): void {
        const { values, mask } = rows(batch);
        const known = lengths(mask);
        const before = known[slot]!;
        const start = slot * WINDOW;
        const end = start + window.length;
        writeNormalized(window, values, start, m, passes);
        if (before < 0) {
          values.fill(0, end, start + WINDOW);
          mask.fill(1n, start, end);
          mask.fill(0n, end, start + WINDOW);
        } else if (window.length >= before) {
          mask.fill(1n, start + before, end); // padding past `end` is still zeros from before
        } else {
          values.fill(0, end, start + before);
          mask.fill(0n, end, start + before);
        }
        known[slot] = window.length;
      },
    };
  },

  // In line: two passes over the samples cost less than handing them to another thread would.
  startPreparer(passes: SamplePasses): Preparer {
    return {
      windowSamples: WINDOW,
      prepare: (samples) => smartTurnV2.prepare(samples, passes),
      close: () => Promise.resolve(),
    };
  },

  clear(batch: Batch, slot: number): void {
    const { values, mask } = rows(batch);
    const start = slot * WINDOW;
    values.fill(0, start, start + WINDOW);
    // An all-zero mask would make attention pooling divide by nothing; a padding row attends to silence.
    mask.fill(1n, start, start + WINDOW);
    lengths(mask)[slot] = -1;
  },
};
