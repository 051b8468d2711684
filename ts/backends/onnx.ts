// ONNX Runtime on the CPU: the embedded default, and the reference TensorRT plans are checked against.
import * as ort from 'onnxruntime-node';
import type { ModelFamily } from '../model/family.js';
import { familyForInputs } from '../model/family.js';
import { allocateInput, elementsPerClip, type Backend, type BackendInfo, type Batch } from './backend.js';

/**
 * CPU throughput does not rise with batch size (the intra-op pool is already busy at batch 1), so
 * small buckets only bound how much one batch adds to the latency of the requests in it.
 */
export const CPU_BUCKETS: readonly number[] = [1, 2, 4, 8];

export interface OnnxOptions {
  modelPath: string;
  buckets?: readonly number[] | undefined;
  /** 0: ONNX Runtime's default (one per core). */
  intraOpThreads?: number;
  interOpThreads?: number;
  reason?: string;
}

export class OnnxBackend implements Backend {
  readonly info: BackendInfo;
  // One batch at a time: two concurrent runs would only split the same cores.
  readonly maxInFlight = 1;
  readonly #session: ort.InferenceSession;
  readonly #output: string;
  readonly #free = new Map<number, Batch[]>();

  private constructor(
    session: ort.InferenceSession,
    readonly family: ModelFamily,
    readonly buckets: readonly number[],
    info: BackendInfo,
  ) {
    this.#session = session;
    this.#output = session.outputNames[0]!;
    this.info = info;
  }

  static async open(options: OnnxOptions): Promise<OnnxBackend> {
    const session = await ort.InferenceSession.create(options.modelPath, {
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      intraOpNumThreads: options.intraOpThreads ?? 0,
      interOpNumThreads: options.interOpThreads ?? 0,
    });
    const family = familyForInputs(session.inputNames);
    if (!family) {
      await session.release();
      throw new Error(
        `${options.modelPath}: inputs (${session.inputNames.join(', ')}) match no known Smart Turn model ` +
          '(v2: input_values + attention_mask; v3: input_features)',
      );
    }
    const buckets = options.buckets ?? CPU_BUCKETS;
    return new OnnxBackend(session, family, buckets, {
      name: 'onnx',
      model: `${options.modelPath} (${family.id})`,
      reason: options.reason ?? 'BACKEND=onnx',
    });
  }

  lease(size: number): Batch {
    const pool = this.#free.get(size);
    const reused = pool?.pop();
    if (reused) return reused;
    const inputs: Record<string, Float32Array | BigInt64Array> = {};
    for (const spec of this.family.inputs) inputs[spec.name] = allocateInput(spec, size);
    return { size, inputs };
  }

  async infer(batch: Batch, count: number): Promise<Float32Array> {
    try {
      // The batch dimension is dynamic, so only the filled rows are computed: on a CPU, padding rows
      // would cost as much as real ones.
      const feeds: Record<string, ort.Tensor> = {};
      for (const spec of this.family.inputs) {
        const data = batch.inputs[spec.name]!.subarray(0, count * elementsPerClip(spec));
        feeds[spec.name] = new ort.Tensor(spec.type, data, [count, ...spec.shape]);
      }
      const result = await this.#session.run(feeds, [this.#output]);
      const out = result[this.#output]!;
      if (out.type !== 'float32' || out.size !== count) {
        throw new Error(`model output ${this.#output} is ${out.type}[${out.dims.join(', ')}], expected float32[${count}, 1]`);
      }
      return out.data as Float32Array;
    } finally {
      this.release(batch);
    }
  }

  release(batch: Batch): void {
    const pool = this.#free.get(batch.size) ?? [];
    pool.push(batch);
    this.#free.set(batch.size, pool);
  }

  async close(): Promise<void> {
    this.#free.clear();
    await this.#session.release();
  }
}
