// A backend that computes nothing, for measuring the front end (bench/server.ts) and for counting the
// copies a request's payload goes through (test/copies.test.ts). It lends real, pooled input buffers
// like OnnxBackend, so the family still writes every clip into a batch; `infer` answers a constant.
import type { Backend, BackendInfo } from '../../ts/backends/backend.js';
import { BatchPool, type Batch } from '../../ts/tensor.js';
import type { ModelFamily } from '../../ts/model/family.js';
import { smartTurnV2 } from '../../ts/model/v2.js';

export const ZERO_COST_PROBABILITY = 0.75;

export class ZeroCostBackend implements Backend {
  readonly info: BackendInfo = { name: 'onnx', model: 'zero-cost benchmark stub', reason: 'benchmark' };
  readonly maxInFlight = 1;
  // Batched as the CPU backend was when the front-end figures in the README were measured.
  readonly windowMs = 2;
  /** Called with each batch just before it is answered (tests inspect what was written). */
  onInfer: ((batch: Batch, count: number) => void) | undefined;
  readonly #pool: BatchPool;

  constructor(
    readonly family: ModelFamily = smartTurnV2,
    readonly buckets: readonly number[] = [1, 2, 4, 8],
  ) {
    this.#pool = new BatchPool(family.inputs);
  }

  lease(size: number): Batch {
    return this.#pool.lease(size);
  }

  release(batch: Batch): void {
    this.#pool.release(batch);
  }

  async infer(batch: Batch, count: number): Promise<Float32Array> {
    try {
      this.onInfer?.(batch, count);
      return new Float32Array(count).fill(ZERO_COST_PROBABILITY);
    } finally {
      this.release(batch);
    }
  }

  async close(): Promise<void> {
    this.#pool.clear();
  }
}
