// TensorRT on the GPU through the native addon, and the addon's TEST executors. The addon lends its
// pinned input buffers; each slot's Batch is made once, as typed arrays over them, so a clip is
// written straight into the memory the GPU copies from. Which plans to open, and whether they may
// serve here, is start-up's business (startup/engines.ts); this class opens what it is given.
import type { ModelFamily } from '../model/family.js';
import { familyForInputs } from '../model/families.js';
import type { NativeAddon, NativeEngine, NativeError, NativeMemoryPlan, NativeOpenOptions, NativeTensorSpec } from '../lib/native.js';
import type { Batch, InputArray } from '../tensor.js';
import { type Backend, type BackendInfo } from './backend.js';

/**
 * The TensorRT backend's buckets unless BATCH_BUCKETS says otherwise: what build:engines builds and
 * the server serves. GPU throughput rises with batch size; three buckets bound the padding a batch carries.
 */
export const GPU_BUCKETS: readonly number[] = [16, 32, 64];

export interface TensorRtOpen {
  addon: NativeAddon;
  /** The addon's open(): the tensorrt executor with its plans, or a TEST executor. */
  options: NativeOpenOptions;
  /** What is served, for logs: the engine folder, or which TEST executor. */
  model: string;
  /** Why this backend serves, for the start-up log. */
  reason: string;
}

interface SlotBatch extends Batch {
  readonly slot: number;
}

export class TensorRtBackend implements Backend {
  readonly info: BackendInfo;
  readonly buckets: readonly number[];
  /** One batch per lane (slot of a bucket) may run at once, so a lease always finds a slot on an idle lane. */
  readonly maxInFlight: number;
  // The original server's GPU window: on a GPU a fuller batch is nearly free, so a lone request waits briefly.
  readonly windowMs = 2;
  /** What the addon says about how batches run (CUDA graphs captured, or why not). */
  readonly description: string;
  /** The device memory the engine planned before allocating it (printed at start-up). */
  readonly memory: NativeMemoryPlan;
  readonly #engine: NativeEngine;
  readonly #batches: SlotBatch[] = [];
  /** Per slot: rows that may hold a previous batch's data; rows past it are already clear. */
  readonly #dirty: number[] = [];
  #closed = false;

  private constructor(engine: NativeEngine, readonly family: ModelFamily, info: BackendInfo) {
    this.#engine = engine;
    const native = engine.info();
    this.buckets = native.buckets;
    this.maxInFlight = native.slotsPerBucket;
    this.description = native.description;
    this.memory = native.memory;
    this.info = info;
    const slots = native.buckets.length * native.slotsPerBucket;
    for (let slot = 0; slot < slots; slot++) {
      const size = native.buckets[Math.floor(slot / native.slotsPerBucket)]!;
      const buffers = engine.buffers(slot);
      const inputs: Record<string, InputArray> = {};
      // The addon lends buffers in the engine's input order; the family finds them by name.
      native.inputs.forEach((spec, i) => {
        inputs[spec.name] = spec.type === 'float32' ? new Float32Array(buffers[i]!) : new BigInt64Array(buffers[i]!);
      });
      const batch: SlotBatch = { size, slot, inputs };
      // Padding rows must hold defined data (the GPU computes them): clear every row once here,
      // then only the rows a previous batch wrote (see #pad).
      for (let row = 0; row < size; row++) family.clear(batch, row);
      this.#batches.push(batch);
      this.#dirty.push(0);
    }
  }

  /**
   * Opens the addon's engine and checks its inputs are a known model family's. A plan set that does
   * not fit the device's memory is refused with what to lower, naming what was being opened.
   */
  static async open({ addon, options, model, reason }: TensorRtOpen): Promise<TensorRtBackend> {
    let engine: NativeEngine;
    try {
      engine = await addon.open(options);
    } catch (error) {
      if ((error as NativeError).code === 'ERR_NATIVE_MEMORY') throw new Error(`${model}: ${(error as Error).message}`);
      throw error;
    }
    const native = engine.info();
    const family = familyForInputs(native.inputs.map((i) => i.name));
    const problem = family ? specMismatch(family, native.inputs) : undefined;
    if (!family || problem) {
      await engine.close();
      throw new Error(
        problem ?? `engine inputs (${native.inputs.map((i) => i.name).join(', ')}) match no known Smart Turn model`,
      );
    }
    return new TensorRtBackend(engine, family, { name: 'tensorrt', model, reason });
  }

  lease(size: number): Batch {
    return this.#batches[this.#engine.lease(size)]!;
  }

  release(batch: Batch): void {
    const { slot } = this.#own(batch);
    // Rows may have been written before the caller gave up on the batch.
    this.#dirty[slot] = batch.size;
    this.#engine.release(slot);
  }

  async infer(batch: Batch, count: number): Promise<Float32Array> {
    const { slot } = this.#own(batch);
    try {
      this.#pad(batch as SlotBatch, count);
    } catch (error) {
      this.#engine.release(slot);
      throw error;
    }
    return this.#engine.infer(slot, count);
  }

  /** Clears rows [count, dirty): rows a previous batch wrote that this one does not overwrite. */
  #pad(batch: SlotBatch, count: number): void {
    if (!Number.isInteger(count) || count < 1 || count > batch.size) {
      throw new RangeError(`row count ${count} is outside 1..${batch.size}`);
    }
    const dirty = this.#dirty[batch.slot]!;
    for (let row = count; row < dirty; row++) this.family.clear(batch, row);
    this.#dirty[batch.slot] = count;
  }

  #own(batch: Batch): SlotBatch {
    const slot = (batch as Partial<SlotBatch>).slot;
    if (slot === undefined || this.#batches[slot] !== batch) throw new TypeError('batch was not leased from this backend');
    return batch as SlotBatch;
  }

  /** Leased and running slots, for tests and metrics. */
  stats(): { leased: number; running: number; closed: boolean } {
    return this.#engine.stats();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#engine.close();
  }
}

function specMismatch(family: ModelFamily, inputs: NativeTensorSpec[]): string | undefined {
  for (const spec of family.inputs) {
    const got = inputs.find((i) => i.name === spec.name)!;
    const same = got.type === spec.type && got.shape.length === spec.shape.length && got.shape.every((d, i) => d === spec.shape[i]);
    if (!same) {
      return `engine input ${spec.name} is ${got.type}[${got.shape.join(', ')}] per clip, ` +
        `but ${family.id} needs ${spec.type}[${spec.shape.join(', ')}]`;
    }
  }
  return undefined;
}
