// Log-mel features on worker threads, so a request's ~15–20 ms of feature work does not stall the event
// loop (measured on this 2-core machine: longest event-loop gap 33 ms computing in line, 5–7 ms with
// workers). It adds no CPU: on a CPU backend the workers share cores with ONNX Runtime's threads.
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../threads.js';
import type { FeatureReply } from './worker.js';

interface Pending {
  resolve(features: Float32Array): void;
  reject(error: Error): void;
}

export class FeaturePool {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, { worker: Worker; settle: Pending }>();
  #next = 0;
  #closed = false;

  /** `size` worker threads (at least 1). */
  constructor(readonly size = 1) {
    for (let i = 0; i < Math.max(1, size); i++) this.#workers.push(this.#spawn());
  }

  /**
   * Features of `window` (see WhisperFeatures.compute). The samples are copied, so the caller keeps
   * its buffer; each promise settles exactly once, rejecting if the pool closes first.
   */
  compute(window: Float32Array): Promise<Float32Array> {
    if (this.#closed) return Promise.reject(new Error('feature pool is closed'));
    const copy = window.slice();
    const id = this.#next++;
    // Round robin: the work per clip is the same, so this balances as well as a queue would.
    const worker = this.#workers[id % this.#workers.length]!;
    return new Promise<Float32Array>((resolve, reject) => {
      this.#pending.set(id, { worker, settle: { resolve, reject } });
      worker.postMessage({ id, samples: copy }, [copy.buffer]);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#failAll(undefined, new Error('feature pool closed'));
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }

  #spawn(): Worker {
    const worker = startWorker('worker', import.meta.url);
    worker.unref(); // an idle pool never holds the process open
    worker.on('message', (reply: FeatureReply) => {
      const entry = this.#pending.get(reply.id);
      if (!entry) return;
      this.#pending.delete(reply.id);
      if ('features' in reply) entry.settle.resolve(reply.features);
      else entry.settle.reject(new Error(reply.error));
    });
    worker.on('error', (error) => this.#replace(worker, error));
    worker.on('exit', (code) => this.#replace(worker, new Error(`feature worker exited with code ${code}`)));
    return worker;
  }

  #replace(worker: Worker, error: Error): void {
    this.#failAll(worker, error);
    const i = this.#workers.indexOf(worker);
    if (i < 0 || this.#closed) return;
    this.#workers[i] = this.#spawn();
  }

  #failAll(worker: Worker | undefined, error: Error): void {
    for (const [id, entry] of this.#pending) {
      if (worker !== undefined && entry.worker !== worker) continue;
      this.#pending.delete(id);
      entry.settle.reject(error);
    }
  }
}
