// Fault and timing injection around a real backend: the model still computes every row it is given,
// but a test decides when a batch may start and whether it fails.
import type { Backend } from '../../ts/backends/backend.js';
import type { Batch } from '../../ts/tensor.js';

export class GatedBackend implements Backend {
  /** Rows actually handed to the real backend, over the whole test. */
  rowsComputed = 0;
  batches: number[] = [];
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => undefined;
  #failures = 0;

  constructor(private readonly inner: Backend, readonly maxInFlight = inner.maxInFlight) {}

  get info() { return this.inner.info; }
  get buckets() { return this.inner.buckets; }
  get windowMs() { return this.inner.windowMs; }
  get family() { return this.inner.family; }

  /** Batches started from now on wait until `release()`. */
  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  release(batch?: Batch): void {
    if (batch) return this.inner.release(batch);
    this.#open();
  }

  /** The next `n` batches reject instead of running. */
  failNext(n: number): void {
    this.#failures = n;
  }

  lease(size: number): Batch {
    return this.inner.lease(size);
  }

  async infer(batch: Batch, count: number): Promise<Float32Array> {
    this.batches.push(count);
    await this.#gate;
    if (this.#failures > 0) {
      this.#failures--;
      this.inner.release(batch);
      throw new Error('injected backend failure');
    }
    this.rowsComputed += count;
    return this.inner.infer(batch, count);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
