import type { ModelFamily } from '../model/family.js';

// The contract between the batcher and whatever runs the model. A backend lends input buffers for a
// batch (`lease`), the model family writes clips straight into them, and `infer` runs the batch.

export type TensorType = 'float32' | 'int64';
export type InputArray = Float32Array | BigInt64Array;

/** One model input, per clip: the batch dimension is not part of `shape`. */
export interface TensorSpec {
  readonly name: string;
  readonly type: TensorType;
  readonly shape: readonly number[];
}

/**
 * Input buffers for one batch of `size` clips (the bucket). Each array holds `size * prod(shape)`
 * elements, clip-major. Owned by the backend; the caller holds it from `lease` until it passes it
 * to `infer`, which takes it back whether the run succeeds or fails.
 */
export interface Batch {
  readonly size: number;
  readonly inputs: Readonly<Record<string, InputArray>>;
}

export interface BackendInfo {
  readonly name: 'onnx' | 'tensorrt';
  /** What the model is, for logs and metrics (a path, a model id, an engine folder). */
  readonly model: string;
  /** Why this backend was chosen, for the start-up log. */
  readonly reason: string;
}

export interface Backend {
  readonly info: BackendInfo;
  /** Batch sizes this backend runs, ascending. */
  readonly buckets: readonly number[];
  /** The preprocessing and input tensors of the model this backend runs. */
  readonly family: ModelFamily;
  /** How many batches may run at once; `lease` always succeeds below this many outstanding leases. */
  readonly maxInFlight: number;

  lease(size: number): Batch;
  /** Takes back a leased batch that will not be run. */
  release(batch: Batch): void;
  /**
   * Runs the first `count` rows of a leased batch (count <= batch.size) and resolves with one
   * probability per row, at least `count` of them. Rows past `count` are the backend's to fill
   * (`family.clear`) if it computes them. Takes the lease back whether it succeeds or fails.
   */
  infer(batch: Batch, count: number): Promise<Float32Array>;
  close(): Promise<void>;
}

export function elementsPerClip(spec: TensorSpec): number {
  return spec.shape.reduce((a, b) => a * b, 1);
}

export function allocateInput(spec: TensorSpec, clips: number): InputArray {
  const n = clips * elementsPerClip(spec);
  return spec.type === 'float32' ? new Float32Array(n) : new BigInt64Array(n);
}

/** Batches of plain memory, kept by size for reuse: the lease/release half of a CPU-side backend. */
export class BatchPool {
  readonly #free = new Map<number, Batch[]>();

  constructor(private readonly inputs: readonly TensorSpec[]) {}

  lease(size: number): Batch {
    const reused = this.#free.get(size)?.pop();
    if (reused) return reused;
    const inputs: Record<string, InputArray> = {};
    for (const spec of this.inputs) inputs[spec.name] = allocateInput(spec, size);
    return { size, inputs };
  }

  release(batch: Batch): void {
    const pool = this.#free.get(batch.size) ?? [];
    pool.push(batch);
    this.#free.set(batch.size, pool);
  }

  clear(): void {
    this.#free.clear();
  }
}
