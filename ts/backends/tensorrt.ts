// TensorRT on the GPU through the native addon. The addon lends its pinned input buffers; each
// slot's Batch is made once, as typed arrays over them, so a clip is written straight into the
// memory the GPU copies from. One plan per bucket, built by `npm run build:engines`, described by
// a manifest that must match this GPU, this TensorRT and this model before anything is served.
import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { hashFile } from '../files.js';
import type { ModelFamily } from '../model/family.js';
import { familyForInputs } from '../model/family.js';
import {
  tryLoadNative,
  type NativeEngine,
  type NativeOpenOptions,
  type NativeStatus,
  type NativeTensorSpec,
} from '../native.js';
import { type Backend, type BackendInfo, type Batch, type InputArray } from './backend.js';

/** GPU throughput rises with batch size; three buckets bound the padding a batch carries. */
export const GPU_BUCKETS: readonly number[] = [16, 32, 64];
export const MANIFEST = 'manifest.json';
export const MANIFEST_FORMAT = 1;

export type EngineDtype = 'bfloat16' | 'float16' | 'float32';

/** engines/<model>/<dtype>/manifest.json, written by tools/build-engines.ts after validation. */
export interface EngineManifest {
  format: number;
  model: string;
  dtype: EngineDtype;
  onnx: { file: string; sha256: string };
  tensorrt: string;
  cuda: { toolkit: string | null; runtime: string | null; driver: string | null };
  gpu: { name: string; computeCapability: string };
  buckets: number[];
  /** Bucket -> plan file name, relative to the manifest. */
  plans: Record<string, string>;
  inputs: NativeTensorSpec[];
  outputs: NativeTensorSpec[];
  validation: { tolerance: number; maxAbsDiff: number; rows: number };
  builtAt: string;
}

/** The folder a model's plans of one dtype live in. `model`: a name or a Hugging Face id. */
export function engineDir(enginesDir: string, model: string, dtype: EngineDtype): string {
  return path.join(enginesDir, modelKey(model), dtype);
}

/** A model name safe as one folder name: 'pipecat-ai/smart-turn-v2' -> 'pipecat-ai--smart-turn-v2'. */
export function modelKey(model: string): string {
  return model.replace(/\.onnx$/i, '').replace(/[\\/]+/g, '--').replace(/[^A-Za-z0-9._-]/g, '_');
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await hashFile(file, hash);
  return hash.digest('hex');
}

export async function readManifest(dir: string): Promise<EngineManifest> {
  const file = path.join(dir, MANIFEST);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new Error(`no TensorRT engines in ${dir} (${MANIFEST} missing): build them with npm run build:engines`);
  }
  const manifest = JSON.parse(text) as EngineManifest;
  if (manifest.format !== MANIFEST_FORMAT) {
    throw new Error(`${file} has format ${manifest.format}, this server reads ${MANIFEST_FORMAT}: rebuild with npm run build:engines`);
  }
  return manifest;
}

/**
 * Why these plans must not run here, or undefined if they may. Plans are specific to the TensorRT
 * version and the GPU they were built on; the ONNX hash ties them to the model being served.
 */
export function manifestMismatch(manifest: EngineManifest, status: NativeStatus, onnxSha256?: string): string | undefined {
  const rebuild = 'rebuild them here with npm run build:engines';
  if (status.versions.tensorrtLibrary !== manifest.tensorrt) {
    return `the engines were built with TensorRT ${manifest.tensorrt} but this machine has ${status.versions.tensorrtLibrary ?? 'none'}; ${rebuild}`;
  }
  if (!status.gpu) return `no GPU: ${status.reason}`;
  if (status.gpu.computeCapability !== manifest.gpu.computeCapability || status.gpu.name !== manifest.gpu.name) {
    return `the engines were built for ${manifest.gpu.name} (compute ${manifest.gpu.computeCapability}) but this GPU is ` +
      `${status.gpu.name} (compute ${status.gpu.computeCapability}); ${rebuild}`;
  }
  if (onnxSha256 !== undefined && onnxSha256 !== manifest.onnx.sha256) {
    return `the engines were built from another model (sha256 ${manifest.onnx.sha256.slice(0, 12)}…, this one ${onnxSha256.slice(0, 12)}…); ${rebuild}`;
  }
  return undefined;
}

export interface EngineLocation {
  /** The ENGINES_DIR root. */
  enginesDir: string;
  /** Model name or id: the folder under enginesDir. */
  model: string;
  dtype: EngineDtype;
  /** The ONNX file being served, when known: its hash must match the manifest's. */
  onnxPath?: string | undefined;
  /** Buckets wanted (BATCH_BUCKETS); every one must have a plan. Default: the manifest's. */
  buckets?: readonly number[] | undefined;
}

/**
 * Whether BACKEND=auto can choose TensorRT: the addon loads, a GPU and TensorRT are present, and
 * matching plans exist. `reason` says why not, or what was found.
 */
export async function tensorRtAvailability(where: EngineLocation): Promise<{ available: boolean; reason: string }> {
  const native = tryLoadNative();
  if (!native.addon) return { available: false, reason: native.reason };
  const status = native.addon.status();
  if (!status.tensorrt) return { available: false, reason: status.reason };
  const dir = engineDir(where.enginesDir, where.model, where.dtype);
  try {
    const manifest = await readManifest(dir);
    const sha = where.onnxPath ? await sha256File(where.onnxPath) : undefined;
    const mismatch = manifestMismatch(manifest, status, sha) ?? missingBuckets(manifest, where.buckets);
    if (mismatch) return { available: false, reason: `${dir}: ${mismatch}` };
    return {
      available: true,
      reason: `TensorRT ${status.versions.tensorrtLibrary} on ${status.gpu!.name} with ${where.dtype} engines in ${dir}`,
    };
  } catch (error) {
    return { available: false, reason: (error as Error).message };
  }
}

function missingBuckets(manifest: EngineManifest, wanted: readonly number[] | undefined): string | undefined {
  const missing = (wanted ?? []).filter((b) => manifest.plans[String(b)] === undefined);
  return missing.length ? `no plan for bucket(s) ${missing.join(', ')} (built: ${manifest.buckets.join(', ')}); rebuild with --buckets` : undefined;
}

export interface TensorRtOptions extends EngineLocation {
  cudaGraphs?: boolean;
  device?: number;
  /** Default 2. */
  slotsPerBucket?: number;
  /** For the start-up log: why this backend was chosen. */
  reason?: string;
}

/** TEST executors of the addon: the readout-v2 fixture model on the CPU or a CUDA kernel. Never for serving. */
export interface TensorRtTestOptions {
  executor: 'test-host' | 'test-cuda';
  buckets: readonly number[];
  slotsPerBucket?: number;
  cudaGraphs?: boolean;
  test?: NativeOpenOptions['test'];
}

interface SlotBatch extends Batch {
  readonly slot: number;
}

export class TensorRtBackend implements Backend {
  readonly info: BackendInfo;
  readonly buckets: readonly number[];
  /** One batch per slot of a bucket may run at once, so a lease never finds its bucket full. */
  readonly maxInFlight: number;
  /** What the addon says about how batches run (CUDA graphs captured, or why not). */
  readonly description: string;
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

  /** Serves validated plans: refuses plans whose manifest does not match this GPU, TensorRT or model. */
  static async open(options: TensorRtOptions): Promise<TensorRtBackend> {
    const native = tryLoadNative();
    if (!native.addon) throw new Error(native.reason);
    const status = native.addon.status();
    if (!status.tensorrt) throw new Error(`TensorRT backend unavailable: ${status.reason}`);
    const dir = engineDir(options.enginesDir, options.model, options.dtype);
    const manifest = await readManifest(dir);
    const sha = options.onnxPath ? await sha256File(options.onnxPath) : undefined;
    const mismatch = manifestMismatch(manifest, status, sha) ?? missingBuckets(manifest, options.buckets);
    if (mismatch) throw new Error(`refusing the TensorRT engines in ${dir}: ${mismatch}`);
    const buckets = [...(options.buckets ?? manifest.buckets)];
    const plans = buckets.map((b) => path.join(dir, manifest.plans[String(b)]!));
    await Promise.all(plans.map((p) => access(p)));
    return TensorRtBackend.#open(
      native.addon.open({
        executor: 'tensorrt',
        buckets,
        plans,
        cudaGraphs: options.cudaGraphs ?? true,
        device: options.device ?? 0,
        slotsPerBucket: options.slotsPerBucket ?? 2,
      }),
      `${manifest.model} (${options.dtype}, ${dir})`,
      options.reason ?? 'BACKEND=tensorrt',
    );
  }

  /** Opens plan files without a manifest: for tools/build-engines.ts, which validates fresh plans. */
  static async openPlans(plans: ReadonlyMap<number, string>, options: { cudaGraphs?: boolean; device?: number } = {}): Promise<TensorRtBackend> {
    const native = tryLoadNative();
    if (!native.addon) throw new Error(native.reason);
    const buckets = [...plans.keys()].sort((a, b) => a - b);
    return TensorRtBackend.#open(
      native.addon.open({ executor: 'tensorrt', buckets, plans: buckets.map((b) => plans.get(b)!), cudaGraphs: options.cudaGraphs ?? true, device: options.device ?? 0 }),
      [...plans.values()].join(', '),
      'validating new plans',
    );
  }

  /** Opens the addon on a TEST executor: the fixture model, for tests and GPU checks. */
  static async openTest(options: TensorRtTestOptions): Promise<TensorRtBackend> {
    const native = tryLoadNative();
    if (!native.addon) throw new Error(native.reason);
    return TensorRtBackend.#open(
      native.addon.open({ ...options, buckets: [...options.buckets] }),
      `readout-v2 fixture on the ${options.executor} TEST executor`,
      `TEST executor ${options.executor}`,
    );
  }

  static async #open(opening: Promise<NativeEngine>, model: string, reason: string): Promise<TensorRtBackend> {
    const engine = await opening;
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
