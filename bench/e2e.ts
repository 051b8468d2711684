// npm run bench:e2e [-- options]: the CPU default end to end (smart-turn v3 on ONNX Runtime), side by
// side in one run with what bounds it and what it replaces:
//   - features: the server's v3 preparation of one 8 s clip, in this process;
//   - model only: a plain session.run loop at batch 1 on the same ONNX file, with the thread plan the
//     server derives from the same environment (startup/cpu-plan.ts);
//   - this server (`ts/main.ts` as a child process) under closed-loop clients posting 8 s float32 .npy
//     clips over loopback HTTP at each concurrency: answers/s, p50/p99, and per answer the CPU time of
//     its threads and their time waiting for a core (/proc schedstat);
//   - the original Python design on the same weights (bench/python_server.py), at the same points, and
//     its model alone on PyTorch at batch 1 (bench/standins.py torch-bench), its ceiling.
// Each round measures everything once; ratios are taken within a round, so drift on a shared machine
// moves both sides of each ratio. A refused request (503) is retried after its Retry-After, as a
// well-behaved client would, and counted.
//
//   --seconds S        measured seconds per point, after a 1 s warm-up at the same concurrency (default 10)
//   --concurrency LIST default 1,8,32
//   --rounds N         default 2
//   --model PATH       a v3 ONNX file (default: the stand-in, built into .cache/standins/ on first use)
//   --variant "K=V …"  also run this server with these settings, space-separated (repeatable), e.g.
//                      "ORT_ALLOW_SPINNING=1 BATCH_BUCKETS=1,2,4,8 MICRO_BATCH_WINDOW_MS=2"
//   --no-python        skip the Python column
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { sessionOptions, type WorkerInit } from '../ts/backends/onnx-protocol.js';
import { loadConfig } from '../ts/config.js';
import { N_FRAMES, N_MELS, N_SAMPLES } from '../ts/features/mel.js';
import { samplePasses } from '../ts/lib/samples.js';
import { smartTurnV3 } from '../ts/model/v3.js';
import { cpuPlan, describePlan } from '../ts/startup/cpu-plan.js';
import { npyBody, numbers } from './lib/bench.js';
import { threadTimes, timesSince, type ThreadTime } from './lib/proc.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PYTHON = '/usr/bin/python3';
const STANDIN = path.join(ROOT, '.cache/standins/smart-turn-v3.onnx');
const PYTHON_PACKAGES = 'python3-fastapi python3-uvicorn python3-torch python3-numpy';
const WARM_UP_S = 1;

const { values: v } = parseArgs({
  strict: true,
  options: {
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '1,8,32' },
    rounds: { type: 'string', default: '2' },
    model: { type: 'string', default: STANDIN },
    variant: { type: 'string', multiple: true, default: [] },
    'no-python': { type: 'boolean', default: false },
  },
});
const seconds = Number(v.seconds);
const concurrency = numbers(v.concurrency);
const rounds = Number(v.rounds);
const modelPath = path.resolve(v.model);
if (!(seconds > 0 && rounds >= 1 && concurrency.every((c) => Number.isInteger(c) && c > 0))) {
  throw new Error('--seconds, --rounds and --concurrency take positive numbers');
}

/** The stand-in and its PyTorch weights, built on first use; any other --model must exist. */
function ensureModel(): void {
  if (modelPath !== STANDIN) {
    if (!existsSync(modelPath)) throw new Error(`--model ${modelPath}: no such file`);
    return;
  }
  if (existsSync(STANDIN) && existsSync(STANDIN.replace(/\.onnx$/, '.pt'))) return;
  try {
    execFileSync(PYTHON, ['bench/standins.py', 'build', '--models', 'v3'], { cwd: ROOT, stdio: 'inherit' });
  } catch {
    throw new Error(`building the v3 stand-in needs ${PYTHON} with Debian's PyTorch and ONNX: apt-get install -y python3-torch python3-onnx`);
  }
}

/** Why the Python column cannot run here, or undefined. */
function pythonMissing(): string | undefined {
  if (v['no-python']) return 'skipped (--no-python)';
  if (modelPath !== STANDIN) return 'skipped: the Python server runs the stand-in only (its PyTorch weights)';
  try {
    execFileSync(PYTHON, ['-c', 'import fastapi, uvicorn, torch, numpy'], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    const missing = /No module named '(\w+)'/.exec(String((error as { stderr?: Buffer }).stderr ?? error))?.[1];
    return `skipped: ${PYTHON} cannot import ${missing ?? 'fastapi, uvicorn, torch or numpy'}; install with: apt-get install -y ${PYTHON_PACKAGES}`;
  }
}

/** ms of wall and process CPU per clip for the server's own v3 preparation (window cut, normalization, log-mel). */
function featureCost(clip: Float32Array, count = 50): { wall: number; cpu: number; implementation: string } {
  const passes = samplePasses();
  const preparer = smartTurnV3.startPreparer(passes);
  for (let i = 0; i < 5; i++) preparer.prepare(clip);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) preparer.prepare(clip);
  const wall = (performance.now() - t0) / count;
  const { user, system } = process.cpuUsage(cpu0);
  return { wall, cpu: (user + system) / 1000 / count, implementation: passes.implementation };
}

interface ModelOnly {
  rate: number;
  /** Median run, ms. */
  p50: number;
  /** This process's CPU per clip, ms: what the server's threads other than the event loop compare with. */
  cpu: number;
  /** ms per clip this process's threads were runnable but waiting for a core. */
  wait: number;
}

/** A plain session.run loop at batch 1, in this otherwise idle process. */
async function modelOnly(init: WorkerInit): Promise<ModelOnly> {
  const session = await ort.InferenceSession.create(modelPath, sessionOptions(init));
  try {
    const input = new ort.Tensor('float32', Float32Array.from({ length: N_MELS * N_FRAMES }, (_, i) => Math.sin(i / 50)), [1, N_MELS, N_FRAMES]);
    const feeds = { [session.inputNames[0]!]: input };
    for (let i = 0; i < 3; i++) await session.run(feeds);
    const runs: number[] = [];
    const before = threadTimes('self');
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      const t = performance.now();
      await session.run(feeds);
      runs.push(performance.now() - t);
    }
    const rate = runs.length / ((performance.now() - t0) / 1000);
    const { main, others } = timesSince(process.pid, before, threadTimes('self'));
    const perClip = (s: number): number => (s * 1000) / runs.length;
    return { rate, p50: quantile(runs, 0.5), cpu: perClip(main.cpu + others.cpu), wait: perClip(main.wait + others.wait) };
  } finally {
    await session.release();
  }
}

/**
 * The same stand-in on PyTorch at batch 1 (bench/standins.py torch-bench), with PyTorch's default
 * threads as the Python server runs it: the ceiling for that server, in this run.
 */
function torchOnly(): { rate: number; threads: number } {
  const threads = Number(execFileSync(PYTHON, ['-c', 'import torch; print(torch.get_num_threads())']).toString());
  const reps = String(Math.max(5, 2 * seconds));
  const out = execFileSync(PYTHON, ['bench/standins.py', 'torch-bench', '--model', 'v3', '--batches', '1', '--reps', reps, '--threads', String(threads)], { cwd: ROOT });
  const line = JSON.parse(out.toString().trim().split('\n').pop()!) as { seconds: number[] };
  return { rate: line.seconds.length / line.seconds.reduce((a, b) => a + b, 0), threads };
}

interface Target {
  label: string;
  kind: 'smart-turn' | 'python';
  port: number;
  child: ChildProcess;
  /** The start-up log's CPU plan line (this server only). */
  plan?: string;
}

async function startSmartTurn(label: string, env: Record<string, string>): Promise<Target> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'ts/main.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, MODEL_PATH: modelPath, BACKEND: 'onnx', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
  });
  const lines = createInterface({ input: child.stdout! });
  let port = 0;
  let plan: string | undefined;
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${label} exited (${code}) before it was ready`)));
    const tooLong = setTimeout(() => child.kill(), 120_000); // then 'exit' rejects
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; port?: number };
      if (entry.msg?.startsWith('CPU plan: ')) plan = entry.msg.slice('CPU plan: '.length);
      if (entry.port !== undefined) port = entry.port;
      if (entry.msg?.startsWith('warm-up done')) {
        clearTimeout(tooLong);
        // From here on its request lines are drained unread: parsing them would add to the clients' CPU.
        lines.close();
        child.stdout!.resume();
        resolve();
      }
    });
  });
  return { label, kind: 'smart-turn', port, child, plan };
}

async function startPython(): Promise<Target> {
  const port = await freePort();
  const child = spawn(PYTHON, ['bench/python_server.py', '--onnx', modelPath, '--port', String(port)], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the Python server exited (${code}) before it was ready`))));
  const deadline = performance.now() + 120_000;
  for (;;) {
    const status = await Promise.race([request(port, 'GET', '/health').then((r) => r.status, () => 0), exited]);
    if (status === 200) return { label: 'Python (FastAPI + PyTorch)', kind: 'python', port, child };
    if (performance.now() > deadline) {
      child.kill();
      throw new Error('the Python server did not answer /health within 120 s');
    }
    await sleep(250);
  }
}

async function stop(t: Target): Promise<void> {
  if (t.child.exitCode !== null) return;
  const exited = new Promise((resolve) => t.child.once('exit', resolve));
  t.child.kill('SIGTERM');
  await exited;
}

/** One request; on a fresh connection unless `agent` keeps them alive. */
function request(port: number, method: string, route: string, body?: Buffer, agent: http.Agent | false = false): Promise<{ status: number; json: any; retryAfter: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: route, method, agent, headers: body ? { 'content-type': 'application/octet-stream', 'content-length': body.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode!, json: text.startsWith('{') ? JSON.parse(text) : undefined, retryAfter: Number(res.headers['retry-after'] ?? 1) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Point {
  rate: number;
  p50: number;
  p99: number;
  /** Median ms of an answer outside the model: in the server (total_time − inference_time), and outside it. */
  serverAround: number;
  clientAround: number;
  refused: number;
  failed: number;
  /** ms per answer on a core, and waiting for one: the main thread (event loop), all other threads. */
  cpuMain: number;
  cpuOthers: number;
  waitMain: number;
  waitOthers: number;
  /** ms per answer of this process's CPU: the load generator, which shares the cores. */
  cpuClients: number;
}

/** `c` closed-loop clients through the warm-up and the measured seconds. */
async function load(t: Target, body: Buffer, c: number): Promise<Point> {
  const start = performance.now();
  const from = start + WARM_UP_S * 1000;
  const until = from + seconds * 1000;
  let before = new Map<number, ThreadTime>();
  let clientsBefore = process.cpuUsage();
  const measuring = sleep(WARM_UP_S * 1000).then(() => {
    before = threadTimes(t.child.pid!);
    clientsBefore = process.cpuUsage();
  });
  const latencies: number[] = [];
  const serverAround: number[] = [];
  const clientAround: number[] = [];
  let refused = 0;
  let failed = 0;
  // Kept-alive connections of this point only: one left idle since an earlier point may be closed by
  // the server just as it is reused.
  const agent = new http.Agent({ keepAlive: true });
  const client = async (): Promise<void> => {
    while (performance.now() < until) {
      const t0 = performance.now();
      const answer = await request(t.port, 'POST', '/raw', body, agent).catch(() => ({ status: 0, json: undefined, retryAfter: 1 }));
      const t1 = performance.now();
      // Answers completed inside the measured span count, however long ago they were sent.
      const counted = t1 >= from && t1 <= until;
      if (answer.status === 200) {
        if (counted) {
          const { inference_time: inference, total_time: total } = answer.json.metrics as { inference_time: number; total_time: number };
          latencies.push(t1 - t0);
          serverAround.push((total - inference) * 1000);
          clientAround.push(t1 - t0 - total * 1000);
        }
      } else if (answer.status === 503) {
        if (counted) refused++;
        await sleep(Math.min(answer.retryAfter * 1000, Math.max(0, until - performance.now())));
      } else {
        if (counted) failed++;
        await sleep(100);
      }
    }
  };
  const running = Array.from({ length: c }, client);
  await sleep(until - performance.now());
  const after = threadTimes(t.child.pid!);
  const clients = process.cpuUsage(clientsBefore);
  await measuring;
  await Promise.all(running);
  agent.destroy();
  const { main, others } = timesSince(t.child.pid!, before, after);
  const perAnswer = (s: number): number => (s * 1000) / Math.max(latencies.length, 1);
  return {
    rate: latencies.length / seconds,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    serverAround: median(serverAround),
    clientAround: median(clientAround),
    refused,
    failed,
    cpuMain: perAnswer(main.cpu),
    cpuOthers: perAnswer(others.cpu),
    waitMain: perAnswer(main.wait),
    waitOthers: perAnswer(others.wait),
    cpuClients: perAnswer((clients.user + clients.system) / 1e6),
  };
}

/** Everything one answer cost the machine: the server's threads and the clients. */
const cpuPerAnswer = (p: Point): number => p.cpuMain + p.cpuOthers + p.cpuClients;

function quantile(xs: number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs: number[]): number => quantile(xs, 0.5);
/** One round's figure, or the range over rounds. */
const span = (xs: number[], digits: number): string => {
  const lo = Math.min(...xs).toFixed(digits);
  const hi = Math.max(...xs).toFixed(digits);
  return lo === hi ? lo : `${lo}–${hi}`;
};
const loads = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function variantEnv(text: string): Record<string, string> {
  return Object.fromEntries(
    text.split(/\s+/).filter(Boolean).map((kv) => {
      const at = kv.indexOf('=');
      if (at <= 0) throw new Error(`--variant takes K=V pairs separated by spaces, got ${JSON.stringify(kv)}`);
      return [kv.slice(0, at), kv.slice(at + 1)];
    }),
  );
}

async function main(): Promise<void> {
  ensureModel();
  const loadAtStart = loads();
  const body = npyBody(128 + N_SAMPLES * 4);
  const clip = new Float32Array(body.buffer, body.byteOffset + 128, N_SAMPLES);
  const plan = cpuPlan(loadConfig(process.env));
  const python = pythonMissing();

  const targets: Target[] = [];
  try {
    targets.push(await startSmartTurn('this server', {}));
    for (const text of v.variant) targets.push(await startSmartTurn(`this server, ${text}`, variantEnv(text)));
    if (!python) targets.push(await startPython());

    // Same clip to every server: the same weights and preprocessing give the same probability.
    const answers = await Promise.all(targets.map((t) => request(t.port, 'POST', '/raw', body).then((r) => r.json?.probability as number)));

    const features = featureCost(clip);
    const modelRuns: ModelOnly[] = [];
    const torchRuns: Array<{ rate: number; threads: number }> = [];
    const points = new Map<string, Point[]>(); // `${label}@${c}` → one per round
    for (let round = 0; round < rounds; round++) {
      modelRuns.push(await modelOnly({ modelPath, intraOpThreads: plan.intraOpThreads, interOpThreads: plan.interOpThreads, allowSpinning: plan.allowSpinning }));
      if (!python) torchRuns.push(torchOnly());
      for (const c of concurrency) {
        // Alternate the order of the servers from round to round.
        for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
          const key = `${t.label}@${c}`;
          points.set(key, [...(points.get(key) ?? []), await load(t, body, c)]);
        }
      }
    }

    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    console.log(`# bench:e2e — ${os.availableParallelism()} × ${cpu}, node ${process.version}, onnxruntime-node ${ort.env.versions.common}`);
    console.log(`# load average (1/5/15 min): ${loadAtStart} at the start, ${loads()} at the end`);
    console.log(`# ${path.relative(ROOT, modelPath)}; 8 s float32 .npy over loopback HTTP, closed-loop clients, ${seconds} s per point after ${WARM_UP_S} s warm-up, ${rounds} round${rounds > 1 ? 's (ranges over rounds)' : ''}`);
    console.log(`# this server's plan: ${targets[0]!.plan ?? describePlan(plan)}`);
    for (const t of targets.slice(1)) if (t.plan) console.log(`# ${t.label}: ${t.plan}`);
    console.log(`\nfeatures (v3 preparation, ${features.implementation}): ${features.wall.toFixed(2)} ms per clip (CPU ${features.cpu.toFixed(2)} ms)`);
    console.log(
      `model only (plain session.run loop, batch 1, the plan's threads and spinning): ${span(modelRuns.map((m) => m.rate), 1)} clips/s, ` +
        `${span(modelRuns.map((m) => m.p50), 1)} ms per run (p50); per clip ${span(modelRuns.map((m) => m.cpu), 1)} ms of CPU, ` +
        `${span(modelRuns.map((m) => m.wait), 1)} ms waiting for a core`,
    );
    console.log(`Python column: ${python ?? `${PYTHON} bench/python_server.py (buckets 1,2,4,8, 2 ms window, PyTorch's default threads)`}`);
    if (torchRuns.length > 0) {
      console.log(
        `PyTorch model only (batch 1, ${torchRuns[0]!.threads} thread${torchRuns[0]!.threads === 1 ? '' : 's'}: its default here, as the Python server runs it): ` +
          `${span(torchRuns.map((t) => t.rate), 1)} clips/s; ONNX Runtime ÷ PyTorch ${span(torchRuns.map((t, r) => modelRuns[r]!.rate / t.rate), 1)}×`,
      );
    }
    console.log(
      '# ÷ model only by CPU: the model-only loop\'s CPU per clip ÷ the CPU per answer of the server and its clients, the rate ratio ' +
        'if both had the cores to themselves; CPU and waits per answer from /proc schedstat, clients = this process',
    );
    console.log(
      '# around the model: median ms of an answer outside its batch, in the server (its total_time − inference_time) + outside the server',
    );
    console.log(
      '\n| server | c | answers/s | ÷ model only | ÷ model only by CPU | p50 ms | p99 ms | around the model, ms | refused (503) | CPU ms per answer: event loop + other threads + clients | ms per answer waiting for a core: event loop + other threads |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const c of concurrency) {
      for (const t of targets) {
        const ps = points.get(`${t.label}@${c}`)!;
        const failed = ps.reduce((n, p) => n + p.failed, 0);
        const cells = [
          t.label,
          String(c),
          span(ps.map((p) => p.rate), 1),
          span(ps.map((p, r) => p.rate / modelRuns[r]!.rate), 2),
          span(ps.map((p, r) => modelRuns[r]!.cpu / cpuPerAnswer(p)), 2),
          span(ps.map((p) => p.p50), 1),
          span(ps.map((p) => p.p99), 1),
          `${span(ps.map((p) => p.serverAround), 1)} + ${span(ps.map((p) => p.clientAround), 1)}`,
          `${span(ps.map((p) => p.refused), 0)}${failed ? ` (+${failed} failed)` : ''}`,
          [ps.map((p) => p.cpuMain), ps.map((p) => p.cpuOthers), ps.map((p) => p.cpuClients)].map((xs) => span(xs, 1)).join(' + '),
          `${span(ps.map((p) => p.waitMain), 1)} + ${span(ps.map((p) => p.waitOthers), 1)}`,
        ];
        console.log(`| ${cells.join(' | ')} |`);
      }
    }

    // The goals of issue 16, each from figures of this run (medians over rounds of per-round values).
    const ours = (c: number): Point[] => points.get(`${targets[0]!.label}@${c}`) ?? [];
    const goal = (name: string, value: number | undefined, text: (x: number) => string, met: (x: number) => boolean): void => {
      if (value === undefined || Number.isNaN(value)) console.log(`- ${name}: not measured in this run`);
      else console.log(`- ${name}: ${text(value)} — ${met(value) ? 'met' : 'NOT met'}`);
    };
    const at8 = ours(8);
    const at1 = ours(1);
    console.log('\ngoals (medians over rounds):');
    const byCpu = (ps: Point[]): string => `; by CPU ${median(ps.map((p, r) => modelRuns[r]!.cpu / cpuPerAnswer(p))).toFixed(2)}`;
    goal('c=8 end to end ÷ model only ≥ 0.8', at8.length ? median(at8.map((p, r) => p.rate / modelRuns[r]!.rate)) : undefined, (x) => `${x.toFixed(2)}${byCpu(at8)}`, (x) => x >= 0.8);
    goal(
      'c=1 p50 ≤ model batch-1 time + 5 ms',
      at1.length ? median(at1.map((p, r) => p.p50 - modelRuns[r]!.p50)) : undefined,
      (x) =>
        `p50 − model run = ${x.toFixed(1)} ms; around the model: ${median(at1.map((p) => p.serverAround)).toFixed(1)} ms in the server, ` +
        `${median(at1.map((p) => p.clientAround)).toFixed(1)} ms outside it`,
      (x) => x <= 5,
    );
    const py = targets.find((t) => t.kind === 'python');
    const pyAt8 = py ? points.get(`${py.label}@8`) : undefined;
    goal(
      'c=8 this server ÷ Python ≥ 3×',
      pyAt8 && at8.length ? median(at8.map((p, r) => p.rate / pyAt8[r]!.rate)) : undefined,
      (x) => `${x.toFixed(1)}×; by CPU ${median(at8.map((p, r) => cpuPerAnswer(pyAt8![r]!) / cpuPerAnswer(p))).toFixed(1)}×`,
      (x) => x >= 3,
    );
    // CPU time: on a busy machine the wall time also counts the waits for a core.
    goal('features ≤ 2 ms per clip', features.cpu, (x) => `CPU ${x.toFixed(2)} ms (wall ${features.wall.toFixed(2)} ms)`, (x) => x <= 2);
    if (answers.length > 1) {
      const spread = Math.max(...answers) - Math.min(...answers);
      console.log(`- same clip, every server: probability ${answers[0]!.toFixed(6)}, largest difference ${spread.toExponential(1)}`);
    }
  } finally {
    await Promise.all(targets.map(stop));
  }
}

await main();
