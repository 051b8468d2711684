// npm run bench:model [-- options]: the real-size stand-ins (bench/standins.py) on our OnnxBackend, and
// the same modules on PyTorch CPU (the original server's framework) in the same run, as the ratio to beat.
//
//   --models LIST     v2,v3 (default both)
//   --batches LIST    default 1,4,16
//   --reps LIST       timed runs per batch size, per model: v2 default 2,1,1 (v2 at 16 is ~40 s a batch
//                     on 2 cores), v3 default 20,8,4; each size also gets one untimed warm-up run
//   --threads LIST    ONNX Runtime intra-op thread counts to try at batch 1 (default 1,2); the best serves
//   --no-torch        skip the PyTorch baseline
//
// The models are built on first use into .cache/standins/ (about a minute; needs /usr/bin/python3 with
// Debian's python3-torch and python3-onnx).
import { execFileSync, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SAMPLE_RATE } from '../ts/audio.js';
import { OnnxBackend } from '../ts/backends/onnx.js';
import { numbers } from './lib/bench.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PYTHON = '/usr/bin/python3';
const STANDINS = path.join(ROOT, '.cache/standins');

interface Options {
  models: string[];
  batches: number[];
  reps: Record<string, number[]> | undefined;
  threads: number[];
  torch: boolean;
}

const DEFAULT_REPS: Record<string, number[]> = { v2: [2, 1, 1], v3: [20, 8, 4] };

function options(argv: string[]): Options {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      models: { type: 'string', default: 'v2,v3' },
      batches: { type: 'string', default: '1,4,16' },
      reps: { type: 'string' },
      threads: { type: 'string', default: '1,2' },
      'no-torch': { type: 'boolean', default: false },
    },
  });
  const reps = v.reps === undefined ? undefined : numbers(v.reps);
  return {
    models: v.models.split(','),
    batches: numbers(v.batches),
    reps: reps && { v2: reps, v3: reps },
    threads: numbers(v.threads),
    torch: !v['no-torch'],
  };
}

const repsFor = (o: Options, model: string, index: number): number => {
  const list = (o.reps ?? DEFAULT_REPS)[model]!;
  return list[Math.min(index, list.length - 1)]!;
};

/** Seconds per batch run, each batch freshly written with `batch` different clips. */
async function timeOnnx(backend: OnnxBackend, batch: number, reps: number): Promise<number[]> {
  // Clips of 3-16 s (v2) / 8 s (v3) of noise; their preparation is not what is timed here.
  const clips = Array.from({ length: batch }, (_, i) => {
    const n = Math.min(backend.family.windowSamples, (3 + ((i * 5) % 14)) * SAMPLE_RATE);
    return backend.family.prepare(Float32Array.from({ length: n }, () => Math.random() * 0.2 - 0.1));
  });
  const run = async (): Promise<number> => {
    const leased = backend.lease(batch);
    clips.forEach((clip, slot) => clip.write(leased, slot));
    const t0 = performance.now();
    await backend.infer(leased, batch);
    return (performance.now() - t0) / 1000;
  };
  await run(); // first run of a shape allocates
  const times: number[] = [];
  for (let i = 0; i < reps; i++) times.push(await run());
  return times;
}

interface TorchLine {
  framework: string;
  threads: number;
  batch: number;
  seconds: number[];
}

function timeTorch(model: string, batches: number[], reps: number[]): Promise<TorchLine[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['bench/standins.py', 'torch-bench', '--model', model, '--batches', batches.join(','), '--reps', reps.join(',')], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').map((l) => JSON.parse(l) as TorchLine)) : reject(new Error(`torch-bench exited ${code}`))));
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f = (x: number, d = 2): string => x.toFixed(d);

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  execFileSync(PYTHON, ['bench/standins.py', 'build', '--models', o.models.join(','), '--out', STANDINS], { cwd: ROOT, stdio: 'inherit' });
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  // Work per clip, to say how close to the cores' peak a rate is (the explanation batching needs).
  const gflop = JSON.parse(execFileSync(PYTHON, ['bench/standins.py', 'flops', '--json'], { cwd: ROOT }).toString()) as Record<string, number>;
  console.log(`# bench:model — ${os.cpus().length} × ${cpu}, node ${process.version}, onnxruntime-node (OnnxBackend: graph optimization 'all', sequential)`);

  for (const model of o.models) {
    const modelPath = path.join(STANDINS, `smart-turn-${model}.onnx`);
    // Thread tuning at batch 1: intra-op threads beyond the core count only add contention.
    const tuning: Array<[number, number]> = [];
    for (const threads of o.threads) {
      const backend = await OnnxBackend.open({ modelPath, buckets: o.batches, intraOpThreads: threads, interOpThreads: 1 });
      try {
        tuning.push([threads, median(await timeOnnx(backend, 1, Math.max(1, Math.min(repsFor(o, model, 0), 5))))]);
      } finally {
        await backend.close();
      }
    }
    const [bestThreads] = tuning.reduce((a, b) => (b[1] < a[1] ? b : a));
    console.log(`\n## ${model}: intra-op threads at batch 1: ${tuning.map(([t, s]) => `${t} → ${f(s * 1000, 0)} ms`).join(', ')}; using ${bestThreads}`);

    const backend = await OnnxBackend.open({ modelPath, buckets: o.batches, intraOpThreads: bestThreads, interOpThreads: 1 });
    const onnx = new Map<number, number[]>();
    try {
      for (const [i, batch] of o.batches.entries()) onnx.set(batch, await timeOnnx(backend, batch, repsFor(o, model, i)));
    } finally {
      await backend.close();
    }
    const torch = new Map<number, TorchLine>();
    if (o.torch) {
      for (const line of await timeTorch(model, o.batches, o.batches.map((_, i) => repsFor(o, model, i)))) torch.set(line.batch, line);
    }

    const torchName = [...torch.values()][0];
    console.log(`${gflop[model]!.toFixed(1)} GFLOP per clip`);
    console.log(`| batch | ONNX Runtime clips/s | batch latency s (median, min–max, n) | GFLOP/s | ${torchName ? `${torchName.framework} (${torchName.threads} threads) clips/s | batch latency s | ORT speed-up |` : ''}`);
    console.log(`|---|---|---|---|${torchName ? '---|---|---|' : ''}`);
    for (const batch of o.batches) {
      const t = onnx.get(batch)!;
      const ort = median(t);
      const cells = [`${batch}`, f(batch / ort), `${f(ort, 3)} (${f(Math.min(...t), 3)}–${f(Math.max(...t), 3)}, ${t.length})`, f((gflop[model]! * batch) / ort, 0)];
      const pt = torch.get(batch);
      if (pt) {
        const m = median(pt.seconds);
        cells.push(f(batch / m), `${f(m, 3)} (${f(Math.min(...pt.seconds), 3)}–${f(Math.max(...pt.seconds), 3)}, ${pt.seconds.length})`, `${f(m / ort)}×`);
      }
      console.log(`| ${cells.join(' | ')} |`);
    }
    const perClip = o.batches.map((b) => ({ b, rate: b / median(onnx.get(b)!) }));
    const best = perClip.reduce((a, c) => (c.rate > a.rate ? c : a));
    const single = perClip.find((p) => p.b === 1);
    if (single) {
      console.log(
        `batching gain (ONNX Runtime): ${f(best.rate / single.rate)}× at batch ${best.b} vs batch 1; ` +
          `a request's p99 there ≈ window + batch time ≈ ${f(median(onnx.get(best.b)!), 3)} s (batch 1: ${f(median(onnx.get(1)!), 3)} s)`,
      );
    }
  }
}

await main();
