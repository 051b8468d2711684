// smart-turn v3: Whisper-tiny encoder with attention pooling, fed Whisper log-mel features of the last
// 8 s (pipecat src/pipecat/audio/turn/smart_turn/local_smart_turn_v3.py `_predict_endpoint`). Input
// `input_features` float32 [B, 80, 800], output `logits` [B, 1] holding a sigmoid probability.
//
// Features are computed in `prepare`, when the request arrives, not in `write`: that work then overlaps
// the batch ONNX Runtime is running on its own threads, instead of delaying the next batch's dispatch.
import { lastWindow } from '../audio.js';
import type { Batch } from '../backends/backend.js';
import { FEATURES_PER_CLIP, N_FRAMES, N_MELS, N_SAMPLES, whisperLogMel } from '../features/mel.js';
import type { FeaturePool } from '../features/pool.js';
import type { Clip, ModelFamily } from './family.js';

/** Features of 8 s of silence: every value at the log floor, (log10(1e-10) + 4) / 4. */
const SILENCE = -1.5;

function row(batch: Batch): Float32Array {
  return batch.inputs['input_features'] as Float32Array;
}

/** A clip whose features are already computed (here or in a worker). */
export function featureClip(features: Float32Array): Clip {
  if (features.length !== FEATURES_PER_CLIP) {
    throw new RangeError(`expected ${FEATURES_PER_CLIP} features, got ${features.length}`);
  }
  return {
    write(batch: Batch, slot: number): void {
      row(batch).set(features, slot * FEATURES_PER_CLIP);
    },
  };
}

export const smartTurnV3: ModelFamily = {
  id: 'smart-turn-v3',
  windowSamples: N_SAMPLES,
  inputs: [{ name: 'input_features', type: 'float32', shape: [N_MELS, N_FRAMES] }],

  prepare(samples: Float32Array): Clip {
    const window = lastWindow(samples, N_SAMPLES);
    return featureClip(whisperLogMel(window));
  },

  clear(batch: Batch, slot: number): void {
    const start = slot * FEATURES_PER_CLIP;
    row(batch).fill(SILENCE, start, start + FEATURES_PER_CLIP);
  },
};

/**
 * `prepare` with the features computed on a FeaturePool's worker thread instead of the event loop.
 * Same result, bit for bit (test/mel.test.ts).
 */
export async function prepareOnPool(pool: FeaturePool, samples: Float32Array): Promise<Clip> {
  const window = lastWindow(samples, N_SAMPLES);
  return featureClip(await pool.compute(window));
}
