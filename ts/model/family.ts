// A model family is the preprocessing a model was trained with, plus the input tensors it expects.
// The backend runs whatever ONNX/engine it is given; the family is chosen by that model's inputs.
import type { Batch, TensorSpec } from '../backends/backend.js';
import { smartTurnV2 } from './v2.js';
import { smartTurnV3 } from './v3.js';

/** A request's audio, validated and reduced to what the model needs; written into a batch later. */
export interface Clip {
  /** The one copy of the payload: into row `slot` of the batch's input buffers. */
  write(batch: Batch, slot: number): void;
}

export interface ModelFamily {
  readonly id: 'smart-turn-v2' | 'smart-turn-v3';
  readonly inputs: readonly TensorSpec[];
  /** How many 16 kHz samples the model sees; longer audio keeps its end. */
  readonly windowSamples: number;
  prepare(samples: Float32Array): Clip;
  /** Fills an unused row of a fixed-size batch with defined data. */
  clear(batch: Batch, slot: number): void;
}

export const FAMILIES: readonly ModelFamily[] = [smartTurnV2, smartTurnV3];

/** The family whose input names a model declares; undefined if none matches. */
export function familyForInputs(names: readonly string[]): ModelFamily | undefined {
  return FAMILIES.find((f) => f.inputs.length === names.length && f.inputs.every((i) => names.includes(i.name)));
}
