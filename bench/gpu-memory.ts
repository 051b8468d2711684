// npx tsx bench/gpu-memory.ts <engine folder>: GPU memory the addon takes per bucket and per slot for
// the plans in one engine folder (engines/<model>/<dtype>, with its manifest.json), measured as the
// device's used memory (nvidia-smi) with each bucket open alone at 1 and at 2 slots, over a baseline
// taken after the process made its CUDA context. Host (pinned) memory per slot is computed from the
// I/O sizes. TENSORRT_LIB_DIR is honoured (ts/config.ts). Needs a GPU and nvidia-smi.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { readManifest } from '../ts/startup/engines.js';
import { loadConfig } from '../ts/config.js';
import { tryLoadNative, type NativeTensorSpec } from '../ts/lib/native.js';

const MiB = 2 ** 20;

function usedMiB(device: number): number {
  return Number(execFileSync('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits', '-i', String(device)], { encoding: 'utf8' }).trim());
}

const rowBytes = (specs: readonly NativeTensorSpec[]): number =>
  specs.reduce((sum, s) => sum + s.shape.reduce((n, d) => n * d, 1) * (s.type === 'float32' ? 4 : 8), 0);

const [dir] = process.argv.slice(2);
if (!dir) throw new Error('usage: bench/gpu-memory.ts <engine folder with manifest.json>');
const config = loadConfig();
const native = tryLoadNative(config.tensorrtLibDir);
if (!native.addon) throw new Error(native.reason);
const addon = native.addon;
const manifest = await readManifest(dir);
const device = config.cudaDevice;
const open = (bucket: number, slots: number) =>
  addon.open({ executor: 'tensorrt', buckets: [bucket], plans: [path.join(dir, manifest.plans[String(bucket)]!)], slotsPerBucket: slots, cudaGraphs: config.cudaGraphs, device });

// The first open makes this process's CUDA context (and loads TensorRT); it stays, so measure after it.
await (await open(manifest.buckets[0]!, 1)).close();
const baseline = usedMiB(device);
const host = rowBytes(manifest.inputs) + rowBytes(manifest.outputs);
console.log(`# GPU memory per bucket and slot: ${manifest.model} ${manifest.dtype} (TensorRT ${addon.status().versions.tensorrtLibrary}), ` +
  `baseline ${baseline} MiB used with this process's context, CUDA graphs ${config.cudaGraphs ? 'on' : 'off'}`);
console.log('| bucket | 1 slot MiB | 2 slots MiB | per slot MiB | pinned host MiB per slot | graphs |');
console.log('|---|---|---|---|---|---|');
for (const bucket of manifest.buckets) {
  const used: number[] = [];
  let description = '';
  for (const slots of [1, 2]) {
    const engine = await open(bucket, slots);
    used.push(usedMiB(device) - baseline);
    description = engine.info().description.replace(/^.*; /, '');
    await engine.close();
  }
  console.log(`| ${bucket} | ${used[0]} | ${used[1]} | ${used[1]! - used[0]!} | ${((bucket * host) / MiB).toFixed(1)} | ${description} |`);
}
