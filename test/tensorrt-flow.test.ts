// The whole TensorRT path, as a user runs it: `npm run build:engines` on the fixture models (plans,
// validation against ONNX Runtime, manifest), `BACKEND=tensorrt npm start` and `BACKEND=auto`, HTTP
// answers against an ONNX Runtime server's, load at 256 connections with CUDA graphs on and off, and
// a SIGTERM drain. Needs a GPU and an addon built with TensorRT headers; runs on real TensorRT where
// the library search path finds it, else against the TensorRT stand-in (test/trt-standin/, built by
// scripts/build_trt_standin.sh); skips, saying why, otherwise. Every process is a child, so the
// library choice (TENSORRT_LIB_DIR) never leaks into other tests.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { EngineManifest } from '../ts/startup/engines.js';
import { encodeNpy } from '../tools/lib/npy.js';
import { tryLoadNative } from '../ts/lib/native.js';
import { queueDepth, startServerProcess, stopServerProcess, type ServerProcess } from './helpers/server-process.js';
import { post } from './helpers/service.js';
import { tensorRtTarget, TRT_FIXTURES } from './helpers/tensorrt.js';

const target = tensorRtTarget();
const trtEnv = target.env;
/** The stand-in computes in float32 whatever the dtype: hold it to that, not to bf16's tolerance. */
const tolerance = (manifest: EngineManifest) => (target.standin ? 1e-4 : manifest.validation.tolerance);

/** Deterministic clips of these lengths: noise around a slow tone, so every sample matters. */
function clips(lengths: readonly number[], seed: number): Buffer[] {
  let s = seed >>> 0;
  const noise = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5);
  return lengths.map((n) => encodeNpy(Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin(i / 40) + 0.2 * noise())));
}

async function probabilities(url: string, bodies: readonly Buffer[]): Promise<number[]> {
  const answers = await Promise.all(bodies.map((body) => post(`${url}/raw`, body)));
  answers.forEach((a) => expect(a.status, JSON.stringify(a.json)).to.equal(200));
  return answers.map((a) => a.json.probability as number);
}

/** `npm run build:engines`, as a child; resolves with its exit code and output. */
function buildEngines(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tools/build-engines.ts', ...args], { env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out })));
}

const MODELS = [
  { name: 'v2', onnx: TRT_FIXTURES.v2 },
  { name: 'v3', onnx: TRT_FIXTURES.v3 },
] as const;
const LENGTHS = [1600, 16_000, 64_000, 127_999, 128_000, 255_999, 256_000, 400_000];

describe(`TensorRT path end to end, ${target.label}`, function () {
  this.timeout(240_000);
  // scripts/gpu_check.sh keeps the plans (for bench/gpu-memory.ts); otherwise a scratch folder.
  const kept = process.env['SMART_TURN_FLOW_ENGINES_DIR'];
  let engines: string;
  const manifests = new Map<string, EngineManifest>();
  const servers: ServerProcess[] = [];

  const serve = async (env: Record<string, string>): Promise<ServerProcess> => {
    const server = await startServerProcess({ ENGINES_DIR: engines, ...trtEnv, ...env });
    servers.push(server);
    return server;
  };
  const modelEnv = (onnx: string) => ({ MODEL_PATH: onnx, DTYPE: 'bfloat16' });

  before(async function () {
    if (target.blocker) {
      // scripts/gpu_check.sh sets this: there a skip would hide that the flow never ran.
      if (process.env['SMART_TURN_REQUIRE_GPU'] === '1') throw new Error(target.blocker);
      console.log(`      skipped: ${target.blocker}`);
      this.skip();
    }
    engines = kept ?? (await mkdtemp(path.join(os.tmpdir(), 'st-engines-')));
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => (s.child.exitCode === null && s.child.signalCode === null ? stopServerProcess(s) : s.exit)));
  });

  after(async () => {
    if (engines && !kept) await rm(engines, { recursive: true, force: true });
  });

  for (const model of MODELS) {
    it(`npm run build:engines builds ${model.name} plans for 16/32/64, validates them against ONNX Runtime and writes the manifest`, async () => {
      const { code, out } = await buildEngines(['--onnx', model.onnx, '--engines-dir', engines], { ...trtEnv, DTYPE: 'bfloat16' });
      expect(code, out).to.equal(0);
      const dir = path.join(engines, path.basename(model.onnx, '.onnx'), 'bfloat16');
      const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as EngineManifest;
      expect(manifest.buckets).to.deep.equal([16, 32, 64]);
      for (const plan of Object.values(manifest.plans)) expect(existsSync(path.join(dir, plan)), plan).to.equal(true);
      expect(manifest.validation.maxAbsDiff).to.be.at.most(manifest.validation.tolerance);
      expect(manifest.validation.rows).to.be.above(0);
      if (target.standin) expect(manifest.tensorrt).to.equal(tryLoadNative().addon!.status().versions.tensorrtHeaders);
      console.log(`      ${model.name}: ${out.match(/^ok: .*$/m)?.[0] ?? out}`);
      manifests.set(model.name, manifest);
    });
  }

  for (const model of MODELS) {
    it(`BACKEND=tensorrt answers ${model.name} requests as ONNX Runtime does`, async function () {
      if (!manifests.has(model.name)) this.skip();
      const bodies = clips(LENGTHS, 7);
      const [trt, ort] = [await serve({ ...modelEnv(model.onnx), BACKEND: 'tensorrt' }), await serve({ MODEL_PATH: model.onnx, BACKEND: 'onnx' })];
      const loaded = trt.lines.find((l) => l['msg'] === 'TensorRT engines loaded');
      expect(loaded, 'start-up log').to.not.equal(undefined);
      console.log(`      ${model.name}: ${String(loaded!['description'])}`);
      const [got, expected] = [await probabilities(trt.url, bodies), await probabilities(ort.url, bodies)];
      got.forEach((p, i) => expect(p, `clip of ${LENGTHS[i]} samples`).to.be.closeTo(expected[i]!, tolerance(manifests.get(model.name)!)));
      expect(new Set(expected.map((p) => p.toFixed(3))).size, 'the clips get distinct answers').to.be.above(LENGTHS.length / 2);
    });
  }

  it('BACKEND=auto chooses TensorRT when the engines match, and says why', async function () {
    if (!manifests.has('v2')) this.skip();
    const server = await serve({ ...modelEnv(TRT_FIXTURES.v2), BACKEND: 'auto' });
    const chosen = server.lines.find((l) => l['msg'] === 'backend chosen')!;
    expect(chosen['backend']).to.equal('tensorrt');
    expect(String(chosen['reason'])).to.match(/^BACKEND=auto: TensorRT \d+\.\d+\.\d+ on /);
  });

  for (const graphs of ['1', '0']) {
    it(`answers 2048 requests at 256 connections, each its own, with CUDA graphs ${graphs === '1' ? 'on' : 'off'}`, async function () {
      if (!manifests.has('v2')) this.skip();
      const bodies = clips([32_000, 96_000, 128_000, 200_000, 256_000, 300_000], 11);
      const reference = await serve({ MODEL_PATH: TRT_FIXTURES.v2, BACKEND: 'onnx' });
      const expected = await probabilities(reference.url, bodies);
      // Every request is admitted and waits as long as it takes: this counts answers, not the admission rule.
      const server = await serve({ ...modelEnv(TRT_FIXTURES.v2), BACKEND: 'tensorrt', CUDA_GRAPHS: graphs, MAX_QUEUE: '4096', REQUEST_TIMEOUT_MS: '60000' });
      const description = String(server.lines.find((l) => l['msg'] === 'TensorRT engines loaded')!['description']);
      expect(description).to.match(graphs === '1' ? /CUDA graphs captured for 6 of 6 slots$/ : /CUDA graphs off/);
      const within = tolerance(manifests.get('v2')!);
      let next = 0;
      const statuses = new Map<number, number>();
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: 256 }, async () => {
          while (next < 2048) {
            const k = next++ % bodies.length;
            const answer = await post(`${server.url}/raw`, bodies[k]!);
            statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
            if (answer.status === 200) expect(answer.json.probability).to.be.closeTo(expected[k]!, within);
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      console.log(`      CUDA graphs ${graphs === '1' ? 'on' : 'off'}: ${description}; ${(2048 / seconds).toFixed(0)} req/s (8-19 s clips, 256 connections, one client process)`);
      expect(Object.fromEntries(statuses)).to.deep.equal({ 200: 2048 });
    });
  }

  it('drains on SIGTERM: every accepted request answered, then exit 0', async function () {
    if (!manifests.has('v2')) this.skip();
    const bodies = clips(Array.from({ length: 20 }, (_, i) => 12_800 * (i + 1)), 13);
    const reference = await serve({ MODEL_PATH: TRT_FIXTURES.v2, BACKEND: 'onnx' });
    const expected = await probabilities(reference.url, bodies);
    // A long window keeps the requests queued until the signal; draining dispatches them at once.
    const server = await serve({ ...modelEnv(TRT_FIXTURES.v2), BACKEND: 'tensorrt', MICRO_BATCH_WINDOW_MS: '1000', BATCH_BUCKETS: '64' });
    const answers = Promise.all(bodies.map((body) => post(`${server.url}/raw`, body)));
    while ((await queueDepth(server.url)) < bodies.length) await new Promise((r) => setTimeout(r, 10));
    server.child.kill('SIGTERM');
    const results = await answers;
    expect(results.map((r) => r.status)).to.deep.equal(Array(bodies.length).fill(200));
    results.forEach((r, i) => expect(r.json.probability).to.be.closeTo(expected[i]!, tolerance(manifests.get('v2')!)));
    expect(await server.exit).to.deep.equal({ code: 0, signal: null });
    expect(server.lines.some((l) => l['msg'] === 'drained; bye')).to.equal(true);
  });
});
