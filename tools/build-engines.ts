// npm run build:engines -- --onnx model.onnx [options]
// ONNX model -> one TensorRT plan per bucket in engines/<model>/<dtype>/, built in a staging folder
// beside it, each plan validated against ONNX Runtime on the CPU on every row of every bucket (each
// row a different clip), then manifest.json; only then does the staging folder replace the old one,
// so a failed build or validation leaves the previous plans and manifest as they were. Exits
// non-zero with the reason when TensorRT is not usable here.
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { OnnxBackend } from '../ts/backends/onnx.js';
import type { Backend } from '../ts/backends/backend.js';
import { GPU_BUCKETS, TensorRtBackend } from '../ts/backends/tensorrt.js';
import { DTYPES, loadConfig, type Dtype } from '../ts/config.js';
import { tryLoadNative, type NativeAddon } from '../ts/lib/native.js';
import {
  describePrecision,
  engineDir,
  layerPrecisions,
  MANIFEST,
  MANIFEST_FORMAT,
  modelKey,
  sha256File,
  type EngineManifest,
  type PlanPrecision,
} from '../ts/startup/engines.js';
import { parse } from './lib/cli.js';
import { UsageError } from './lib/target.js';

const USAGE = `usage: npm run build:engines -- --onnx <model.onnx> [--model <name>] [--dtype ${DTYPES.join('|')}]
       [--buckets 16,32,64] [--engines-dir engines] [--workspace-mib <MiB>] [--timing-cache <file>] [--device <n>]
Defaults come from DTYPE, BATCH_BUCKETS, ENGINES_DIR and CUDA_DEVICE; --model defaults to the ONNX file's name.`;

/** Probabilities may differ from ONNX Runtime's fp32 answer by at most this much. */
export const TOLERANCE: Record<Dtype, number> = { float32: 1e-3, float16: 2e-2, bfloat16: 5e-2 };

const OPTIONS = {
  onnx: { type: 'string' },
  model: { type: 'string' },
  dtype: { type: 'string' },
  buckets: { type: 'string' },
  'engines-dir': { type: 'string' },
  'workspace-mib': { type: 'string' },
  'timing-cache': { type: 'string' },
  device: { type: 'string' },
} as const;

export interface BuildArgs {
  onnx: string;
  model: string;
  dtype: Dtype;
  buckets: number[];
  enginesDir: string;
  workspaceMiB: number;
  timingCache: string;
  device: number;
  /** TENSORRT_LIB_DIR (test/diagnostic): where TensorRT is loaded from. */
  tensorrtLibDir: string | undefined;
  cudaGraphs: boolean;
}

export function parseArgs(argv: readonly string[], env: Record<string, string | undefined> = process.env): BuildArgs {
  const config = loadConfig(env);
  const { values } = parse(OPTIONS, [...argv]);
  const onnx = values.onnx;
  if (!onnx) throw new UsageError('--onnx is required');
  const dtype = values.dtype ?? config.dtype;
  if (!(DTYPES as readonly string[]).includes(dtype)) throw new UsageError(`--dtype must be ${DTYPES.join(', ')}, got ${dtype}`);
  // The flag goes through BATCH_BUCKETS' own parser, so both take the same sizes.
  const buckets = values.buckets !== undefined ? loadConfig({ BATCH_BUCKETS: values.buckets }).batchBuckets! : (config.batchBuckets ?? [...GPU_BUCKETS]);
  const int = (name: 'workspace-mib' | 'device', fallback: number) => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a whole number, got ${raw}`);
    return Number(raw);
  };
  const model = modelKey(values.model ?? path.basename(onnx));
  const enginesDir = values['engines-dir'] ?? config.enginesDir;
  return {
    onnx,
    model,
    dtype: dtype as Dtype,
    buckets,
    enginesDir,
    workspaceMiB: int('workspace-mib', 0),
    // Shared across dtypes and buckets of one model: tactic timings do not depend on either.
    timingCache: values['timing-cache'] ?? path.join(enginesDir, model, 'timing.cache'),
    device: int('device', config.cudaDevice),
    tensorrtLibDir: config.tensorrtLibDir,
    cudaGraphs: config.cudaGraphs,
  };
}

/**
 * Runs `build` on an empty staging folder beside `dir`, then puts it in `dir`'s place; if `build`
 * throws, the staging folder is removed and `dir` is left exactly as it was.
 */
export async function replaceFolder<T>(dir: string, build: (staging: string) => Promise<T>): Promise<T> {
  const staging = `${dir}.staging-${process.pid}`;
  const old = `${dir}.old-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  let result: T;
  try {
    result = await build(staging);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  // Two renames: a folder cannot be renamed over a non-empty one.
  const hadOld = await stat(dir).then(() => true, () => false);
  if (hadOld) await rename(dir, old);
  await rename(staging, dir);
  if (hadOld) await rm(old, { recursive: true, force: true });
  return result;
}

/** Deterministic noise, so a failing validation can be reproduced. */
function gaussian(n: number, seed: number, level: number): Float32Array {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = level * Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
  return out;
}

/**
 * `count` different clips: noise of varying loudness over a tone of varying pitch, from half a second
 * to past the model's window, so that each row of a batch gets an answer of its own.
 */
export function validationClips(count: number, windowSamples: number): Float32Array[] {
  return Array.from({ length: count }, (_, i) => {
    const length = Math.round(8000 + ((i * 7919) % 17) / 16 * (windowSamples + 8000));
    const noise = gaussian(length, i + 1, 0.02 + 0.3 * ((i * 37) % 11) / 10);
    const pitch = 2 * Math.PI * (80 + 40 * (i % 13)) / 16_000;
    return noise.map((x, k) => x + 0.2 * Math.sin(pitch * k) * ((i % 3) / 2));
  });
}

/**
 * Fills every row of every bucket of `trt` with a different clip and compares each answer with
 * ONNX Runtime's for the same clip: a batch-position bug (a row read from or written to the wrong
 * place) cannot pass. Returns the largest difference and the rows compared.
 */
export async function validate(
  trt: Backend,
  ort: Backend,
  buckets: readonly number[],
  log: (line: string) => void = () => {},
): Promise<{ maxAbsDiff: number; rows: number }> {
  const largest = Math.max(...buckets);
  const prepared = validationClips(largest, trt.family.windowSamples).map((clip) => trt.family.prepare(clip));
  const batch = ort.lease(largest);
  prepared.forEach((clip, row) => clip.write(batch, row));
  const expected = await ort.infer(batch, largest);
  let maxAbsDiff = 0;
  let rows = 0;
  for (const bucket of buckets) {
    const leased = trt.lease(bucket);
    prepared.slice(0, bucket).forEach((clip, row) => clip.write(leased, row));
    const got = await trt.infer(leased, bucket);
    let worst = 0;
    for (let row = 0; row < bucket; row++) {
      const diff = Math.abs(got[row]! - expected[row]!);
      worst = Number.isNaN(diff) ? Infinity : Math.max(worst, diff);
    }
    maxAbsDiff = Math.max(maxAbsDiff, worst);
    rows += bucket;
    log(`  bucket ${bucket}: ${bucket} rows, each a different clip; max abs difference ${worst.toExponential(2)}`);
  }
  return { maxAbsDiff, rows };
}

interface Built {
  manifest: EngineManifest;
  maxAbsDiff: number;
}

/** Builds and validates every plan into `staging`, and writes the manifest there last. */
async function buildInto(staging: string, args: BuildArgs, addon: NativeAddon): Promise<Built> {
  const status = addon.status(args.device);
  const plans = new Map<number, string>();
  const precision: Record<string, PlanPrecision> = {};
  let io: Pick<EngineManifest, 'inputs' | 'outputs'> | undefined;
  for (const bucket of args.buckets) {
    const plan = path.join(staging, `b${bucket}.plan`);
    const t0 = performance.now();
    const built = await addon.buildEngine({
      onnx: args.onnx,
      plan,
      bucket,
      dtype: args.dtype,
      workspaceMiB: args.workspaceMiB,
      timingCache: args.timingCache,
      device: args.device,
    });
    precision[String(bucket)] = layerPrecisions(built.layerInformation, built.tf32);
    io = { inputs: built.inputs, outputs: built.outputs };
    const kept = args.dtype === 'float16' ? `, ${built.layersKeptFp32} normalization layers kept in fp32` : '';
    console.log(`  bucket ${bucket}: ${path.basename(plan)} (${(built.planBytes / 2 ** 20).toFixed(1)} MiB, ` +
      `activations ${(built.activationBytes / 2 ** 20).toFixed(1)} MiB, ${((performance.now() - t0) / 1000).toFixed(1)} s${kept})`);
    console.log(`    runs ${describePrecision(precision[String(bucket)]!)}`);
    plans.set(bucket, plan);
  }

  console.log(`validating against ONNX Runtime (CPU), tolerance ${TOLERANCE[args.dtype]}`);
  const trt = await TensorRtBackend.open({
    addon,
    options: { executor: 'tensorrt', buckets: args.buckets, plans: args.buckets.map((b) => plans.get(b)!), cudaGraphs: args.cudaGraphs, device: args.device },
    model: staging,
    reason: 'validating new plans',
  });
  const memory = trt.memory;
  console.log(memory.description);
  let result: { maxAbsDiff: number; rows: number };
  const ort = await OnnxBackend.open({ modelPath: args.onnx });
  try {
    result = await validate(trt, ort, args.buckets, (line) => console.log(line));
  } finally {
    await trt.close();
    await ort.close();
  }
  if (!(result.maxAbsDiff <= TOLERANCE[args.dtype])) {
    throw new Error(`validation failed: max abs difference ${result.maxAbsDiff} exceeds ${TOLERANCE[args.dtype]} for ${args.dtype}; ` +
      'the previous engines (if any) are left as they were');
  }
  const manifest: EngineManifest = {
    format: MANIFEST_FORMAT,
    model: args.model,
    dtype: args.dtype,
    onnx: { file: path.basename(args.onnx), sha256: await sha256File(args.onnx) },
    tensorrt: status.versions.tensorrtLibrary!,
    cuda: { toolkit: status.versions.cudaToolkit, runtime: status.versions.cudaRuntime, driver: status.versions.cudaDriver },
    gpu: { name: status.gpu!.name, computeCapability: status.gpu!.computeCapability },
    buckets: args.buckets,
    plans: Object.fromEntries([...plans].map(([b, p]) => [String(b), path.basename(p)])),
    inputs: io!.inputs,
    outputs: io!.outputs,
    precision,
    memory,
    validation: { tolerance: TOLERANCE[args.dtype], maxAbsDiff: result.maxAbsDiff, rows: result.rows },
    builtAt: new Date().toISOString(),
  };
  await writeFile(path.join(staging, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  return { manifest, maxAbsDiff: result.maxAbsDiff };
}

export async function main(argv: readonly string[]): Promise<number> {
  let args: BuildArgs;
  try {
    args = parseArgs(argv);
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const native = tryLoadNative(args.tensorrtLibDir);
  if (!native.addon) {
    console.error(`cannot build engines: ${native.reason}`);
    return 1;
  }
  const status = native.addon.status(args.device);
  if (!status.tensorrt || !status.gpu) {
    console.error(`cannot build engines: ${status.reason}`);
    return 1;
  }
  try {
    await stat(args.onnx);
  } catch {
    console.error(`cannot build engines: ${args.onnx} does not exist`);
    return 1;
  }
  const dir = engineDir(args.enginesDir, args.model, args.dtype);
  console.log(`building ${args.dtype} engines for ${args.onnx} into ${dir} on GPU ${status.gpu.index} (${status.gpu.name}) with TensorRT ${status.versions.tensorrtLibrary}`);
  try {
    const built = await replaceFolder(dir, (staging) => buildInto(staging, args, native.addon));
    console.log(`ok: max abs difference ${built.maxAbsDiff.toExponential(2)} over ${built.manifest.validation.rows} rows; wrote ${path.join(dir, MANIFEST)}`);
    return 0;
  } catch (error) {
    console.error(`cannot build engines: ${(error as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`cannot build engines: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}
