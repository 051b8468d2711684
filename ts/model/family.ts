// A model family is the preprocessing a model was trained with, plus the input tensors it expects.
// The backend runs whatever ONNX/engine it is given; the family is chosen by that model's inputs.
import type { SamplePasses } from '../lib/samples.js';
import type { Batch, TensorSpec } from '../tensor.js';

/** A request's audio, validated and reduced to what the model needs; written into a batch later. */
export interface Clip {
  /** The one copy of the payload: into row `slot` of the batch's input buffers. */
  write(batch: Batch, slot: number): void;
}

/**
 * How one service turns requests' 16 kHz audio into clips: what the server holds. Started by the
 * family, which knows whether its preprocessing is cheap enough to run in line or needs threads of its
 * own; closed when the service stops.
 */
export interface Preparer {
  /** How many 16 kHz samples the model sees; longer audio keeps its end. */
  readonly windowSamples: number;
  prepare(samples: Float32Array): Clip | Promise<Clip>;
  close(): Promise<void>;
}

export interface ModelFamily {
  readonly id: 'smart-turn-v2' | 'smart-turn-v3';
  readonly inputs: readonly TensorSpec[];
  /** How many 16 kHz samples the model sees; longer audio keeps its end. */
  readonly windowSamples: number;
  /** The clip, computed on the calling thread; `passes` default to SAMPLE_PASSES' default. */
  prepare(samples: Float32Array, passes?: SamplePasses): Clip;
  /** What a service prepares clips with, using its own sample passes. */
  startPreparer(passes: SamplePasses): Preparer;
  /** Fills an unused row of a fixed-size batch with defined data. */
  clear(batch: Batch, slot: number): void;
}
