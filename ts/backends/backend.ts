// The contract between the batcher and whatever runs the model. A backend lends input buffers for a
// batch (`lease`), the model family writes clips straight into them, and `infer` runs the batch.
import type { BackendName } from '../config.js';
import type { ModelFamily } from '../model/family.js';
import type { Batch } from '../tensor.js';

export interface BackendInfo {
  readonly name: BackendName;
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
  /** How long the first request of a batch waits for company, unless MICRO_BATCH_WINDOW_MS says. */
  readonly windowMs: number;

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
