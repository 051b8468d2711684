// smart-turn v3: Whisper-tiny encoder with attention pooling, fed Whisper log-mel features of the last
// 8 s (pipecat src/pipecat/audio/turn/smart_turn/local_smart_turn_v3.py `_predict_endpoint`). Input
// `input_features` float32 [B, 80, 800], output `logits` [B, 1] holding a sigmoid probability.
//
// Features are computed in `prepare`, when the request arrives, not in `write`: that work then overlaps
// the batch ONNX Runtime is running on its own threads, instead of delaying the next batch's dispatch.
import { lastWindow } from '../audio.js';
import { FEATURES_PER_CLIP, N_FRAMES, N_MELS, N_SAMPLES, WhisperFeatures } from '../features/mel.js';
import { samplePasses, type SamplePasses } from '../lib/samples.js';
import type { Batch } from '../tensor.js';
import type { Clip, ModelFamily, Preparer } from './family.js';

/** Features of 8 s of silence: every value at the log floor, (log10(1e-10) + 4) / 4. */
const SILENCE = -1.5;

function row(batch: Batch): Float32Array {
  return batch.inputs['input_features'] as Float32Array;
}

function prepareWith(features: WhisperFeatures, samples: Float32Array): Clip {
  const values = features.features(lastWindow(samples, N_SAMPLES));
  return {
    write(batch: Batch, slot: number): void {
      row(batch).set(values, slot * FEATURES_PER_CLIP);
    },
  };
}

export const smartTurnV3: ModelFamily = {
  id: 'smart-turn-v3',
  windowSamples: N_SAMPLES,
  inputs: [{ name: 'input_features', type: 'float32', shape: [N_MELS, N_FRAMES] }],

  prepare(samples: Float32Array, passes: SamplePasses = samplePasses()): Clip {
    return prepareWith(WhisperFeatures.for(passes), samples);
  },

  // In line, on the event loop: the native kernel costs less than the thread hops and copies of a
  // worker pool would add (README, Performance). One WhisperFeatures per service keeps its scratch.
  startPreparer(passes: SamplePasses): Preparer {
    const features = WhisperFeatures.for(passes);
    return {
      windowSamples: N_SAMPLES,
      prepare: (samples) => prepareWith(features, samples),
      close: () => Promise.resolve(),
    };
  },

  clear(batch: Batch, slot: number): void {
    const start = slot * FEATURES_PER_CLIP;
    row(batch).fill(SILENCE, start, start + FEATURES_PER_CLIP);
  },
};
