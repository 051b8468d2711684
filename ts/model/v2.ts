// smart-turn v2: wav2vec2-base with attention pooling, fed raw 16 kHz audio.
//
// Preprocessing matches upstream's `Wav2Vec2Processor(audio, padding="max_length", max_length=16000*16,
// return_attention_mask=True)` (pipecat-ai/smart-turn `onnx/inference.py`, `predict_endpoint`):
// zero-mean/unit-variance over the real samples (`do_normalize`, epsilon 1e-7), zeros on the right with
// attention_mask 0 over them. Upstream truncates from the end; we keep the last 16 s instead, since the
// end of the turn is what the model is asked about.
import { lastWindow, moments, writeNormalized } from '../audio.js';
import type { Batch } from '../backends/backend.js';
import type { Clip, ModelFamily } from './family.js';

const WINDOW = 16 * 16_000;
const EPSILON = 1e-7;

function rows(batch: Batch): { values: Float32Array; mask: BigInt64Array } {
  return {
    values: batch.inputs['input_values'] as Float32Array,
    mask: batch.inputs['attention_mask'] as BigInt64Array,
  };
}

export const smartTurnV2: ModelFamily = {
  id: 'smart-turn-v2',
  windowSamples: WINDOW,
  inputs: [
    { name: 'input_values', type: 'float32', shape: [WINDOW] },
    { name: 'attention_mask', type: 'int64', shape: [WINDOW] },
  ],

  prepare(samples: Float32Array): Clip {
    const window = lastWindow(samples, WINDOW);
    const m = moments(window, EPSILON);
    return {
      usedSamples: window.length,
      write(batch: Batch, slot: number): void {
        const { values, mask } = rows(batch);
        const start = slot * WINDOW;
        const end = start + window.length;
        writeNormalized(window, values, start, m);
        values.fill(0, end, start + WINDOW);
        mask.fill(1n, start, end);
        mask.fill(0n, end, start + WINDOW);
      },
    };
  },

  clear(batch: Batch, slot: number): void {
    const { values, mask } = rows(batch);
    const start = slot * WINDOW;
    values.fill(0, start, start + WINDOW);
    // An all-zero mask would make attention pooling divide by nothing; a padding row attends to silence.
    mask.fill(1n, start, start + WINDOW);
  },
};
