// The TensorRT engine catalogue: where `npm run build:engines` puts a model's plans
// (engines/<model>/<dtype>/), the manifest that describes them, and whether they may serve here.
// Start-up asks once (findEngines): the addon is loaded, the manifest read and the ONNX file hashed
// one time, and what is found is what the backend opens.
import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Dtype } from '../config.js';
import { hashFile } from '../lib/files.js';
import { tryLoadNative, type NativeAddon, type NativeMemoryPlan, type NativeStatus, type NativeTensorSpec } from '../lib/native.js';
import { GPU_BUCKETS } from '../backends/tensorrt.js';

export const MANIFEST = 'manifest.json';
/** 2: adds `precision` and `memory`; plans of format 1 were validated on a few rows only. */
export const MANIFEST_FORMAT = 2;

/** What one plan runs, from TensorRT's engine inspector (detailed profiling verbosity). */
export interface PlanPrecision {
  /** Whether BuilderFlag::kTF32 was set: float32 layers may then multiply in TF32. */
  tf32: boolean;
  layers: number;
  /** Layers by the data type of their first output: { bfloat16: 600, float32: 210, ... }. */
  outputs: Record<string, number>;
}

/** engines/<model>/<dtype>/manifest.json, written by tools/build-engines.ts after validation. */
export interface EngineManifest {
  format: number;
  model: string;
  dtype: Dtype;
  onnx: { file: string; sha256: string };
  tensorrt: string;
  cuda: { toolkit: string | null; runtime: string | null; driver: string | null };
  gpu: { name: string; computeCapability: string };
  buckets: number[];
  /** Bucket -> plan file name, relative to the manifest. */
  plans: Record<string, string>;
  inputs: NativeTensorSpec[];
  outputs: NativeTensorSpec[];
  /** Bucket -> what its plan runs. */
  precision: Record<string, PlanPrecision>;
  /** The device-memory plan of these buckets, with the default slots, on the GPU that built them. */
  memory: NativeMemoryPlan;
  /** Every row of every bucket, each a different clip, against ONNX Runtime on the CPU. */
  validation: { tolerance: number; maxAbsDiff: number; rows: number };
  builtAt: string;
}

/** The folder a model's plans of one dtype live in. `model`: a name or a Hugging Face id. */
export function engineDir(enginesDir: string, model: string, dtype: Dtype): string {
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
 * version and the GPU they were built on (`status` describes the configured device); the ONNX hash
 * ties them to the model being served.
 */
export function manifestMismatch(manifest: EngineManifest, status: NativeStatus, onnxSha256?: string): string | undefined {
  const rebuild = 'rebuild them here with npm run build:engines';
  if (status.versions.tensorrtLibrary !== manifest.tensorrt) {
    return `the engines were built with TensorRT ${manifest.tensorrt} but this machine has ${status.versions.tensorrtLibrary ?? 'none'}; ${rebuild}`;
  }
  if (!status.gpu) return `no GPU: ${status.reason}`;
  if (status.gpu.computeCapability !== manifest.gpu.computeCapability || status.gpu.name !== manifest.gpu.name) {
    return `the engines were built for ${manifest.gpu.name} (compute ${manifest.gpu.computeCapability}) but GPU ${status.gpu.index} is ` +
      `${status.gpu.name} (compute ${status.gpu.computeCapability}); ${rebuild}`;
  }
  if (onnxSha256 !== undefined && onnxSha256 !== manifest.onnx.sha256) {
    return `the engines were built from another model (sha256 ${manifest.onnx.sha256.slice(0, 12)}…, this one ${onnxSha256.slice(0, 12)}…); ${rebuild}`;
  }
  return undefined;
}

/**
 * What TensorRT's detailed engine information says each layer runs in: layers counted by the data
 * type of their first output ("Row major linear FP32", "Half", "BF16 format" ...).
 */
export function layerPrecisions(layerInformation: string, tf32: boolean): PlanPrecision {
  const info = JSON.parse(layerInformation) as { Layers?: Array<{ Outputs?: Array<{ 'Format/Datatype'?: string }> } | string> };
  const outputs: Record<string, number> = {};
  for (const layer of info.Layers ?? []) {
    const format = typeof layer === 'string' ? undefined : layer.Outputs?.[0]?.['Format/Datatype'];
    const type = dataType(format);
    outputs[type] = (outputs[type] ?? 0) + 1;
  }
  return { tf32, layers: info.Layers?.length ?? 0, outputs };
}

const DATA_TYPES: ReadonlyArray<[RegExp, string]> = [
  [/\b(BF16|BFloat16)\b/i, 'bfloat16'],
  [/\b(FP16|Half)\b/i, 'float16'],
  [/\b(FP32|Float)\b/i, 'float32'],
  [/\b(FP8)\b/i, 'float8'],
  [/\bInt64\b/i, 'int64'],
  [/\bInt32\b/i, 'int32'],
  [/\bInt8\b/i, 'int8'],
  [/\bBool\b/i, 'bool'],
];

function dataType(format: string | undefined): string {
  if (format === undefined) return 'unknown';
  return DATA_TYPES.find(([pattern]) => pattern.test(format))?.[1] ?? 'unknown';
}

/** "612 bfloat16, 201 float32, 3 int64 layers; TF32 off". */
export function describePrecision(precision: PlanPrecision): string {
  const counts = Object.entries(precision.outputs)
    .sort((a, b) => b[1] - a[1])
    .map(([type, n]) => `${n} ${type}`)
    .join(', ');
  return `${counts || 'no'} layers (by output type); TF32 ${precision.tf32 ? 'allowed' : 'off'}`;
}

export interface EngineLocation {
  /** The ENGINES_DIR root. */
  enginesDir: string;
  /** Model name or id: the folder under enginesDir. */
  model: string;
  dtype: Dtype;
  /** The ONNX file being served, when known: its hash must match the manifest's. */
  onnxPath?: string | undefined;
  /** Buckets to serve (BATCH_BUCKETS); each must have a plan. Default: GPU_BUCKETS, as build:engines builds. */
  buckets?: readonly number[] | undefined;
  /** The CUDA device (CUDA_DEVICE): its GPU must be the one the plans were built for. */
  device: number;
  /** TENSORRT_LIB_DIR: load TensorRT from this folder instead of the library search path. */
  tensorrtLibDir?: string | undefined;
}

export type FoundEngines =
  | {
      ok: true;
      addon: NativeAddon;
      status: NativeStatus;
      dir: string;
      manifest: EngineManifest;
      buckets: number[];
      /** Plan files, in the buckets' order. */
      plans: string[];
      /** What was found, for the start-up log. */
      reason: string;
    }
  | { ok: false; reason: string };

/**
 * Whether TensorRT can serve here: the addon loads, the device and TensorRT are usable, and the
 * manifest's plans match this GPU, this TensorRT, this model and the buckets wanted. `reason` says
 * why not, or what was found.
 */
export async function findEngines(where: EngineLocation): Promise<FoundEngines> {
  const native = tryLoadNative(where.tensorrtLibDir);
  if (!native.addon) return { ok: false, reason: native.reason };
  const status = native.addon.status(where.device);
  if (!status.tensorrt) return { ok: false, reason: status.reason };
  const dir = engineDir(where.enginesDir, where.model, where.dtype);
  try {
    const manifest = await readManifest(dir);
    const sha = where.onnxPath ? await sha256File(where.onnxPath) : undefined;
    const buckets = [...(where.buckets ?? GPU_BUCKETS)];
    const mismatch = manifestMismatch(manifest, status, sha) ?? missingBuckets(manifest, buckets);
    if (mismatch) return { ok: false, reason: `${dir}: ${mismatch}` };
    const plans = buckets.map((b) => path.join(dir, manifest.plans[String(b)]!));
    await Promise.all(plans.map((p) => access(p)));
    return {
      ok: true,
      addon: native.addon,
      status,
      dir,
      manifest,
      buckets,
      plans,
      reason: `TensorRT ${status.versions.tensorrtLibrary} on ${status.gpu!.name} (GPU ${status.gpu!.index}) with ${where.dtype} engines in ${dir}`,
    };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}

function missingBuckets(manifest: EngineManifest, wanted: readonly number[]): string | undefined {
  const missing = wanted.filter((b) => manifest.plans[String(b)] === undefined);
  return missing.length ? `no plan for bucket(s) ${missing.join(', ')} (built: ${manifest.buckets.join(', ')}); rebuild with --buckets` : undefined;
}
