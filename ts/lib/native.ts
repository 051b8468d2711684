// The one typed declaration of the raw native addon (native/, built by `npm run build:native`).
// Only ts/backends/tensorrt.ts, tools/build-engines.ts, ts/lib/samples.ts (the sample passes) and
// ts/features/mel.ts (the log-mel kernel) use it;
// everything else sees a Backend.
// Threading: [sync] calls return at once; [async] calls wait off the event loop (libuv's pool for
// open/buildEngine, the addon's own completion thread for infer).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dtype } from '../config.js';

export type NativeExecutor = 'tensorrt' | 'test-host' | 'test-cuda';
export type NativeTensorType = 'float32' | 'int64';

/** Per-row shape: the batch dimension is not part of it. */
export interface NativeTensorSpec {
  name: string;
  type: NativeTensorType;
  shape: number[];
}

export interface NativeStatus {
  /** Built with CUDA, and the driver and a device are usable. */
  cuda: boolean;
  /** TensorRT usable for serving: built with its headers, libnvinfer.so.10 (as new as them) loaded, the GPU present. */
  tensorrt: boolean;
  gpu: { index: number; name: string; computeCapability: string; memoryBytes: number } | null;
  versions: {
    napi: number;
    cudaToolkit: string | null;
    cudaRuntime: string | null;
    cudaDriver: string | null;
    tensorrtHeaders: string | null;
    tensorrtLibrary: string | null;
  };
  build: { cuda: boolean; tensorrt: boolean };
  executors: NativeExecutor[];
  /** '' when everything is available; otherwise what is missing and what to do about it. */
  reason: string;
}

/** Failures to inject into a TEST executor: batches of exactly `rows` rows fail. */
export interface NativeTestFault {
  rows: number;
  at?: 'launch' | 'wait';
  code?: 'cuda' | 'tensorrt' | 'internal';
  message?: string;
}

export interface NativeOpenOptions {
  executor: NativeExecutor;
  /** Ascending, distinct. */
  buckets: number[];
  /** Default 2 (the addon's): two lanes, so the next batch's copy overlaps the current batch's compute. */
  slotsPerBucket?: number;
  /** Default on (the addon's). */
  cudaGraphs?: boolean;
  device?: number;
  /** tensorrt: one plan file per bucket, in the buckets' order. */
  plans?: string[];
  /** TEST executors only. */
  test?: {
    delayMs?: number;
    fault?: NativeTestFault;
    breakCapture?: boolean;
    /** test-host only: pretend to be on a device with this memory and per-row scratch (the memory plan, lanes). */
    device?: { freeMiB: number; totalMiB: number; scratchBytesPerRow: number };
  };
}

/**
 * Device memory as the engine planned it before allocating (native/src/core/memory_plan.h): each
 * of the `lanes` lanes has one activation buffer sized for the largest bucket; each slot its own I/O.
 */
export interface NativeMemoryPlan {
  /** null for a host executor. */
  device: number | null;
  lanes: number;
  laneBytes: number;
  /** Bucket -> one batch's activations (TensorRT's getDeviceMemorySizeV2). */
  activationBytes: Record<string, number>;
  slotBytes: number;
  neededBytes: number;
  freeBytes: number | null;
  totalBytes: number | null;
  /** One line, for the start-up log. */
  description: string;
}

export interface NativeEngineInfo {
  executor: NativeExecutor;
  /** How batches run (graphs captured or why not), for the start-up log. */
  description: string;
  buckets: number[];
  slotsPerBucket: number;
  /** Whether the lent input buffers are page-locked (GPU executors). */
  pinned: boolean;
  inputs: NativeTensorSpec[];
  outputs: NativeTensorSpec[];
  memory: NativeMemoryPlan;
}

/**
 * Errors carry `code`: ERR_INVALID_ARG_TYPE (TypeError), ERR_OUT_OF_RANGE (RangeError),
 * ERR_NATIVE_UNAVAILABLE, ERR_NATIVE_BUSY, ERR_NATIVE_CLOSED, ERR_NATIVE_STATE, ERR_CUDA,
 * ERR_TENSORRT, ERR_NATIVE_IO, ERR_NATIVE_MEMORY (open: the device has too little free memory),
 * ERR_NATIVE_INTERNAL.
 */
export interface NativeEngine {
  /** [sync] */
  info(): NativeEngineInfo;
  /** [sync] A free slot of exactly this bucket; throws ERR_NATIVE_BUSY when all are leased or running. */
  lease(bucket: number): number;
  /** [sync] The slot's input buffers, one per input, lent over the addon's (pinned) memory; detached by close(). */
  buffers(slot: number): ArrayBuffer[];
  /** [sync] Gives back a leased slot that will not be run; a no-op once closed. */
  release(slot: number): void;
  /** [async] Runs the first `rows` rows; the lease ends whether it succeeds or fails. */
  infer(slot: number, rows: number): Promise<Float32Array>;
  /** [sync] */
  stats(): { leased: number; running: number; closed: boolean };
  /** [async] Refuses new work, lets running batches finish, frees everything. Idempotent. */
  close(): Promise<void>;
}

export interface NativeBuildOptions {
  onnx: string;
  plan: string;
  bucket: number;
  dtype: Dtype;
  /** 0 or absent: TensorRT's default. */
  workspaceMiB?: number;
  timingCache?: string;
  device?: number;
}

export interface NativeBuildResult {
  tensorrtVersion: string;
  inputs: NativeTensorSpec[];
  outputs: NativeTensorSpec[];
  planBytes: number;
  layersKeptFp32: number;
  /** Whether the plan was built with BuilderFlag::kTF32 (cleared for float32). */
  tf32: boolean;
  /** One batch's activation memory (getDeviceMemorySizeV2). */
  activationBytes: number;
  /** IEngineInspector's detailed JSON: every layer and the formats of its inputs and outputs. */
  layerInformation: string;
}

export interface NativeAddon {
  /** [sync] About CUDA device `device` (default 0). Never throws for a missing GPU or TensorRT: that is what `reason` is for. */
  status(device?: number): NativeStatus;
  /** [async] Throws TypeError/RangeError for malformed options; rejects for everything else. */
  open(options: NativeOpenOptions): Promise<NativeEngine>;
  /** [async] */
  buildEngine(options: NativeBuildOptions): Promise<NativeBuildResult>;
  /**
   * [sync] Load TensorRT from this folder ('' = the library search path) when it is first used;
   * throws ERR_NATIVE_STATE if this process already looked for it elsewhere.
   */
  useTensorRtLibraryDir(dir: string): void;
  /** [sync] [sum, sum of squares] of the samples, accumulated in float64. */
  sumSamples(samples: Float32Array): [number, number];
  /** [sync] dst[offset + i] = (src[i] - mean) * scale in float64, rounded once; RangeError if dst is too short. */
  normalizeSamples(src: Float32Array, dst: Float32Array, offset: number, mean: number, scale: number): void;
  /**
   * [sync] smart-turn v3's log-mel features of exactly 128000 normalized samples, float32 [80, 800] into
   * dst from `offset`; RangeError for another length or too little room.
   */
  whisperLogMel(normalized: Float32Array, dst: Float32Array, offset: number): void;
}

export interface NativeError extends Error {
  code?: string;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let loaded: { addon: NativeAddon } | { addon: undefined; reason: string } | undefined;

/**
 * The addon, or why it cannot be loaded (not built, or built for another Node ABI). `tensorrtLibDir`
 * (TENSORRT_LIB_DIR): where TensorRT is to be loaded from; when it conflicts with where this process
 * already looked, that is the reason.
 */
export function tryLoadNative(tensorrtLibDir?: string): { addon: NativeAddon } | { addon: undefined; reason: string } {
  if (!loaded) {
    try {
      const require = createRequire(import.meta.url);
      const load = require('node-gyp-build') as (dir: string) => NativeAddon;
      loaded = { addon: load(ROOT) };
    } catch (error) {
      const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
      loaded = { addon: undefined, reason: `the native addon is not built or does not load (${why}); run npm run build:native` };
    }
  }
  if (loaded.addon && tensorrtLibDir !== undefined) {
    try {
      loaded.addon.useTensorRtLibraryDir(tensorrtLibDir);
    } catch (error) {
      return { addon: undefined, reason: (error as Error).message };
    }
  }
  return loaded;
}

export function loadNative(): NativeAddon {
  const result = tryLoadNative();
  if (!result.addon) throw new Error(result.reason);
  return result.addon;
}
