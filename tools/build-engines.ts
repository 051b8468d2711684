// npm run build:engines -- --onnx model.onnx [options]
// ONNX model -> one TensorRT plan per bucket in engines/<model>/<dtype>/, each validated against
// ONNX Runtime on the CPU, then manifest.json (written last, only if every plan passes: the server
// refuses a folder without one). Exits non-zero with the reason when TensorRT is not usable here.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OnnxBackend } from '../ts/backends/onnx.js';
import {
  engineDir,
  MANIFEST,
  MANIFEST_FORMAT,
  modelKey,
  sha256File,
  TensorRtBackend,
  GPU_BUCKETS,
  type EngineDtype,
  type EngineManifest,
} from '../ts/backends/tensorrt.js';
import { loadConfig } from '../ts/config.js';
import { decodeNpy } from '../ts/npy.js';
import { tryLoadNative, type NativeBuildResult } from '../ts/lib/native.js';

const USAGE = `usage: npm run build:engines -- --onnx <model.onnx> [--model <name>] [--dtype bfloat16|float16|float32]
       [--buckets 16,32,64] [--engines-dir engines] [--workspace-mib <MiB>] [--timing-cache <file>] [--device <n>]
Defaults come from DTYPE, BATCH_BUCKETS and ENGINES_DIR; --model defaults to the ONNX file's name.`;

/** Probabilities may differ from ONNX Runtime's fp32 answer by at most this much. */
export const TOLERANCE: Record<EngineDtype, number> = { float32: 1e-3, float16: 2e-2, bfloat16: 5e-2 };

export interface BuildArgs {
  onnx: string;
  model: string;
  dtype: EngineDtype;
  buckets: number[];
  enginesDir: string;
  workspaceMiB: number;
  timingCache: string;
  device: number;
  /** TENSORRT_LIB_DIR (test/diagnostic): where TensorRT is loaded from. */
  tensorrtLibDir: string | undefined;
}

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[], env: Record<string, string | undefined> = process.env): BuildArgs {
  const config = loadConfig(env);
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (!flag.startsWith('--') || value === undefined) throw new UsageError(`unexpected argument ${flag}`);
    flags.set(flag.slice(2), value);
    i++;
  }
  const known = ['onnx', 'model', 'dtype', 'buckets', 'engines-dir', 'workspace-mib', 'timing-cache', 'device'];
  for (const k of flags.keys()) if (!known.includes(k)) throw new UsageError(`unknown option --${k}`);
  const onnx = flags.get('onnx');
  if (!onnx) throw new UsageError('--onnx is required');
  const dtype = (flags.get('dtype') ?? config.dtype) as EngineDtype;
  if (!(dtype in TOLERANCE)) throw new UsageError(`--dtype must be bfloat16, float16 or float32, got ${dtype}`);
  const buckets = flags.has('buckets') ? loadConfig({ BATCH_BUCKETS: flags.get('buckets') }).batchBuckets! : (config.batchBuckets ?? [...GPU_BUCKETS]);
  const int = (name: string, fallback: number) => {
    const raw = flags.get(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a whole number, got ${raw}`);
    return Number(raw);
  };
  const model = modelKey(flags.get('model') ?? path.basename(onnx));
  const enginesDir = flags.get('engines-dir') ?? config.enginesDir;
  return {
    onnx,
    model,
    dtype,
    buckets,
    enginesDir,
    workspaceMiB: int('workspace-mib', 0),
    // Shared across dtypes and buckets of one model: tactic timings do not depend on either.
    timingCache: flags.get('timing-cache') ?? path.join(enginesDir, model, 'timing.cache'),
    device: int('device', 0),
    tensorrtLibDir: config.tensorrtLibDir,
  };
}

/** Deterministic noise, so a failing validation can be reproduced. */
function gaussian(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 0.1 * Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
  return out;
}

async function validationClips(windowSamples: number): Promise<Array<{ name: string; samples: Float32Array }>> {
  const clips = [
    { name: 'noise 1 s', samples: gaussian(16_000, 1) },
    { name: 'noise 7.5 s', samples: gaussian(120_000, 2) },
    { name: 'noise, full window', samples: gaussian(windowSamples, 3) },
    { name: 'noise, longer than the window', samples: gaussian(windowSamples + 16_000, 4) },
  ];
  const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'npy');
  for (const name of ['f4.npy', 'i2.npy']) {
    try {
      clips.push({ name: `fixture ${name}`, samples: decodeNpy(await readFile(path.join(fixtures, name))).samples });
    } catch {
      // fixtures are not shipped everywhere; the random clips still validate
    }
  }
  return clips;
}

/** Runs the same clips through every plan and through ONNX Runtime; returns the largest difference. */
async function validate(args: BuildArgs, plans: Map<number, string>): Promise<{ maxAbsDiff: number; rows: number }> {
  const trt = await TensorRtBackend.openPlans(plans, { device: args.device, tensorrtLibDir: args.tensorrtLibDir });
  const ort = await OnnxBackend.open({ modelPath: args.onnx });
  try {
    const clips = await validationClips(trt.family.windowSamples);
    const prepared = clips.map((c) => trt.family.prepare(c.samples));
    let maxAbsDiff = 0;
    let rows = 0;
    const expected = await (async () => {
      const batch = ort.lease(prepared.length);
      prepared.forEach((clip, row) => clip.write(batch, row));
      return ort.infer(batch, prepared.length);
    })();
    for (const bucket of args.buckets) {
      const count = Math.min(bucket, prepared.length);
      const batch = trt.lease(bucket);
      prepared.slice(0, count).forEach((clip, row) => clip.write(batch, row));
      const got = await trt.infer(batch, count);
      for (let row = 0; row < count; row++) {
        const diff = Math.abs(got[row]! - expected[row]!);
        if (!(diff <= maxAbsDiff)) maxAbsDiff = Number.isNaN(diff) ? Infinity : diff;
        console.log(`  bucket ${bucket} ${clips[row]!.name}: TensorRT ${got[row]!.toFixed(6)} ONNX Runtime ${expected[row]!.toFixed(6)}`);
      }
      rows += count;
    }
    return { maxAbsDiff, rows };
  } finally {
    await trt.close();
    await ort.close();
  }
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
  const status = native.addon.status();
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
  await mkdir(dir, { recursive: true });
  console.log(`building ${args.dtype} engines for ${args.onnx} into ${dir} on ${status.gpu.name} with TensorRT ${status.versions.tensorrtLibrary}`);
  const plans = new Map<number, string>();
  let last: NativeBuildResult | undefined;
  for (const bucket of args.buckets) {
    const plan = path.join(dir, `b${bucket}.plan`);
    const t0 = performance.now();
    last = await native.addon.buildEngine({
      onnx: args.onnx,
      plan,
      bucket,
      dtype: args.dtype,
      workspaceMiB: args.workspaceMiB,
      timingCache: args.timingCache,
      device: args.device,
    });
    const kept = args.dtype === 'float16' ? `, ${last.layersKeptFp32} normalization layers kept in fp32` : '';
    console.log(`  bucket ${bucket}: ${plan} (${(last.planBytes / 2 ** 20).toFixed(1)} MiB, ${((performance.now() - t0) / 1000).toFixed(1)} s${kept})`);
    plans.set(bucket, plan);
  }

  console.log(`validating against ONNX Runtime (CPU), tolerance ${TOLERANCE[args.dtype]}`);
  const { maxAbsDiff, rows } = await validate(args, plans);
  if (!(maxAbsDiff <= TOLERANCE[args.dtype])) {
    console.error(`validation failed: max abs difference ${maxAbsDiff} exceeds ${TOLERANCE[args.dtype]} for ${args.dtype}; no manifest written, the server will not use these plans`);
    return 1;
  }
  const manifest: EngineManifest = {
    format: MANIFEST_FORMAT,
    model: args.model,
    dtype: args.dtype,
    onnx: { file: path.basename(args.onnx), sha256: await sha256File(args.onnx) },
    tensorrt: status.versions.tensorrtLibrary!,
    cuda: { toolkit: status.versions.cudaToolkit, runtime: status.versions.cudaRuntime, driver: status.versions.cudaDriver },
    gpu: { name: status.gpu.name, computeCapability: status.gpu.computeCapability },
    buckets: args.buckets,
    plans: Object.fromEntries([...plans].map(([b, p]) => [String(b), path.basename(p)])),
    inputs: last!.inputs,
    outputs: last!.outputs,
    validation: { tolerance: TOLERANCE[args.dtype], maxAbsDiff, rows },
    builtAt: new Date().toISOString(),
  };
  await writeFile(path.join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  console.log(`ok: max abs difference ${maxAbsDiff.toExponential(2)} over ${rows} rows; wrote ${path.join(dir, MANIFEST)}`);
  return 0;
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
