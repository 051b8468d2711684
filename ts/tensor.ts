// The batch a model family writes and a backend runs: tensors described per clip, and batches of them.
// Neutral ground between the request steps: model families fill batches, backends lend and run them,
// and neither needs the other to say what a batch is.

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
