// ONNX Runtime on the CPU: the embedded default, and the reference TensorRT plans are checked against.
// The session lives on its own thread (see onnx-worker.ts); a batch's memory travels there and back
// by transfer, so the clips written into it on this thread are read there in place.
import type { Worker } from 'node:worker_threads';
import type { ModelFamily } from '../model/family.js';
import { startWorker } from '../lib/threads.js';
import { familyForInputs } from '../model/families.js';
import { BatchPool, elementsPerClip, type Batch, type InputArray } from '../tensor.js';
import type { Backend, BackendInfo } from './backend.js';
import type { FromWorker, ToWorker, WireInput, WorkerInit } from './onnx-protocol.js';

export interface OnnxOptions {
  modelPath: string;
  /** Default [1]: one clip at a time (startup/cpu-plan.ts derives the server's from the cores). */
  buckets?: readonly number[] | undefined;
  /** 0 (the default): ONNX Runtime's own choice (one per physical core). */
  intraOpThreads?: number;
  interOpThreads?: number;
  /** Whether idle intra-op threads spin before they sleep; default ONNX Runtime's (they do). */
  allowSpinning?: boolean;
  reason?: string;
}

interface Job {
  resolve(probabilities: Float32Array): void;
  reject(error: Error): void;
}

export class OnnxBackend implements Backend {
  readonly info: BackendInfo;
  // One batch at a time: two concurrent runs would only split the same cores.
  readonly maxInFlight = 1;
  // A lone request is not held back for company: on a CPU a fuller batch is hardly faster per clip, only later.
  readonly windowMs = 0;
  readonly #worker: Worker;
  readonly #pool: BatchPool;
  readonly #jobs = new Map<number, Job>();
  #nextJob = 0;
  #dead: Error | undefined;

  private constructor(
    worker: Worker,
    readonly family: ModelFamily,
    readonly buckets: readonly number[],
    info: BackendInfo,
  ) {
    this.#worker = worker;
    this.#pool = new BatchPool(family.inputs);
    this.info = info;
    worker.on('message', (message: FromWorker) => {
      if (message.type !== 'result' && message.type !== 'error') return;
      this.#returned(message.inputs);
      const job = this.#jobs.get(message.job);
      this.#jobs.delete(message.job);
      if (message.type === 'result') job?.resolve(message.probabilities);
      else job?.reject(new Error(`ONNX Runtime: ${message.message}`));
    });
    const die = (error: Error): void => {
      this.#dead ??= error;
      for (const job of this.#jobs.values()) job.reject(this.#dead);
      this.#jobs.clear();
    };
    worker.on('error', (error) => die(new Error(`ONNX Runtime thread crashed: ${error.message}`)));
    worker.on('exit', (code) => die(new Error(`ONNX Runtime thread exited (code ${code})`)));
  }

  static async open(options: OnnxOptions): Promise<OnnxBackend> {
    const init: WorkerInit = {
      modelPath: options.modelPath,
      intraOpThreads: options.intraOpThreads ?? 0,
      interOpThreads: options.interOpThreads ?? 0,
      allowSpinning: options.allowSpinning,
    };
    const worker = startWorker('onnx-worker', import.meta.url, { workerData: init });
    // Only our own listeners may be removed: Worker keeps internal ones for its message port.
    let listeners: Array<[string, (...args: any[]) => void]> = [];
    const ready = await new Promise<FromWorker>((resolve, reject) => {
      listeners = [
        ['message', resolve],
        ['error', reject],
        ['exit', (code: number) => reject(new Error(`ONNX Runtime thread exited (code ${code}) while loading`))],
      ];
      for (const [event, listener] of listeners) worker.once(event, listener);
    }).catch(async (error: unknown) => {
      await worker.terminate();
      throw error;
    });
    for (const [event, listener] of listeners) worker.off(event, listener);
    if (ready.type !== 'ready') {
      await worker.terminate();
      throw new Error(`${options.modelPath}: ${ready.type === 'failed' ? ready.message : 'unexpected message from the ONNX Runtime thread'}`);
    }
    const family = familyForInputs(ready.inputNames);
    if (!family) {
      await worker.terminate();
      throw new Error(
        `${options.modelPath}: inputs (${ready.inputNames.join(', ')}) match no known Smart Turn model ` +
          '(v2: input_values + attention_mask; v3: input_features)',
      );
    }
    return new OnnxBackend(worker, family, options.buckets ?? [1], {
      name: 'onnx',
      model: `${options.modelPath} (${family.id})`,
      reason: options.reason ?? 'BACKEND=onnx',
    });
  }

  lease(size: number): Batch {
    return this.#pool.lease(size);
  }

  release(batch: Batch): void {
    this.#pool.release(batch);
  }

  infer(batch: Batch, count: number): Promise<Float32Array> {
    if (this.#dead) {
      this.release(batch);
      return Promise.reject(this.#dead);
    }
    // The batch dimension is dynamic, so only the filled rows are computed: on a CPU, padding rows
    // would cost as much as real ones. The memory comes back with the answer (see #returned).
    const inputs: WireInput[] = this.family.inputs.map((spec) => ({
      name: spec.name,
      type: spec.type,
      buffer: batch.inputs[spec.name]!.buffer as ArrayBuffer,
      dims: [count, ...spec.shape],
    }));
    const job = this.#nextJob++;
    const done = new Promise<Float32Array>((resolve, reject) => this.#jobs.set(job, { resolve, reject }));
    this.#worker.postMessage({ type: 'run', job, inputs } satisfies ToWorker, inputs.map((i) => i.buffer));
    return done;
  }

  /** A batch's memory, back from the session thread: ready to lease again. */
  #returned(wire: WireInput[]): void {
    const inputs: Record<string, InputArray> = {};
    for (const i of wire) inputs[i.name] = i.type === 'float32' ? new Float32Array(i.buffer) : new BigInt64Array(i.buffer);
    const first = this.family.inputs[0]!;
    this.release({ size: inputs[first.name]!.length / elementsPerClip(first), inputs });
  }

  async close(): Promise<void> {
    this.#pool.clear();
    if (this.#dead) return;
    this.#dead = new Error('ONNX Runtime backend closed');
    const exited = new Promise((resolve) => this.#worker.once('exit', resolve));
    this.#worker.postMessage({ type: 'close' } satisfies ToWorker);
    await exited;
  }
}
