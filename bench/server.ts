// npm run bench:server [-- options]: front-end overhead, side by side in one run.
//
// (a) a bare node:http server that reads the body and answers a fixed JSON, and (b) this server on the
// zero-cost backend (bench/lib/zero-cost-backend.ts), each in its own child process, are driven by
// autocannon in this process with the same .npy bodies (512 KiB and 1 MiB) at each concurrency. The
// two targets alternate point by point, so drift on a shared machine hits both. On Linux with taskset,
// the servers are pinned to CPU 0 and this load generator to CPU 1: on 2 cores they would otherwise
// compete for the same core and the measurement would mostly show the scheduler.
//
//   --duration S        seconds per point (default 5)
//   --concurrency LIST  default 1,16,64,256
//   --sizes LIST        body sizes in KiB (default 512,1024)
//   --variant K=V,...   also run this server with these env settings (repeatable), e.g. MICRO_BATCH_WINDOW_MS=0
//   --also DIR          also run the smart-turn target of another checkout (repeatable), e.g. one with a
//                       change undone, to show that change's gain side by side
//   --cpu-prof          write V8 CPU profiles of the servers to .cache/profiles/ (summarize: bench/profile.ts)
//   --no-pin            don't pin processes to cores
//   --feed RATE         also say whether one server process can take RATE requests/s (a GPU's rate): its
//                       main thread's CPU per request at the highest concurrency bounds it at 1e6 / that
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { npyBody, numbers, pinLoadGenerator } from './lib/bench.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Options {
  duration: number;
  concurrency: number[];
  sizes: number[];
  variants: Record<string, string>[];
  also: string[];
  cpuProf: boolean;
  pin: boolean;
  feed: number | undefined;
}

function options(argv: string[]): Options {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      duration: { type: 'string', default: '5' },
      concurrency: { type: 'string', default: '1,16,64,256' },
      sizes: { type: 'string', default: '512,1024' },
      variant: { type: 'string', multiple: true, default: [] },
      also: { type: 'string', multiple: true, default: [] },
      'cpu-prof': { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
      feed: { type: 'string' },
    },
  });
  return {
    duration: Number(v.duration),
    concurrency: numbers(v.concurrency),
    sizes: numbers(v.sizes),
    variants: v.variant.map((text) => Object.fromEntries(text.split(',').map((kv) => kv.split('=') as [string, string]))),
    also: v.also.map((dir) => path.resolve(dir)),
    cpuProf: v['cpu-prof'],
    pin: !v['no-pin'],
    feed: v.feed === undefined ? undefined : Number(v.feed),
  };
}

interface Target {
  label: string;
  port: number;
  child: ChildProcess;
  /** Resolves with the next `CPU <µs> <µs>` line the target prints: all threads, main thread. */
  cpu(): Promise<CpuTime>;
}

interface CpuTime {
  all: number;
  main: number;
}

async function startTarget(label: string, kind: string, env: Record<string, string>, o: Options, profDir: string, root = ROOT): Promise<Target> {
  // One folder per target: tsx's loader thread writes a profile of its own next to the main thread's.
  const node = [...(o.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profDir, label.replace(/\W+/g, '_'))}`] : []), '--import', 'tsx'];
  const args = [...node, path.join(root, 'bench/server-target.ts'), kind];
  const [cmd, argv] = o.pin ? ['taskset', ['-c', '0', process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(cmd, argv as string[], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SMART_TURN_BENCH_ENV: JSON.stringify(env) },
  });
  let waiting: ((time: CpuTime) => void) | undefined;
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      let line: RegExpExecArray | null;
      while ((line = /^(PORT|CPU) (\d+)(?: (\d+))?\n/.exec(out))) {
        out = out.slice(line[0].length);
        if (line[1] === 'PORT') resolve(Number(line[2]));
        else waiting?.({ all: Number(line[2]), main: Number(line[3]) });
      }
    });
    child.once('exit', (code) => reject(new Error(`${label} exited (${code}) before listening`)));
  });
  const cpu = (): Promise<CpuTime> =>
    new Promise((resolve) => {
      waiting = resolve;
      child.kill('SIGUSR2');
    });
  return { label, port, child, cpu };
}

async function stopTarget(t: Target): Promise<void> {
  const exited = new Promise((resolve) => t.child.once('exit', resolve));
  t.child.kill('SIGTERM');
  await exited;
}

interface Point {
  rps: number;
  /** Server CPU time (all its threads) per answered request, µs: robust to a busy machine. */
  cpuPerRequest: number;
  /** The main thread's share, µs: one process cannot answer more than 1e6 / this per second. */
  mainPerRequest: number;
  p50: number;
  p99: number;
  ok: number;
  bad: number;
}

async function load(t: Target, body: Buffer, connections: number, duration: number): Promise<Point> {
  const cpu0 = await t.cpu();
  // autocannon's own histogram keeps whole milliseconds; its 'response' event has the exact time.
  const latencies: number[] = [];
  let run: autocannon.Instance | undefined;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    run = autocannon(
      {
        url: `http://127.0.0.1:${t.port}/raw`,
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body,
        connections,
        duration,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
  run!.on('response', (_client, status, _bytes, ms) => {
    if (status === 200) latencies.push(ms);
  });
  const r = await finished;
  const cpu1 = await t.cpu();
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  // Only answered predictions count: a 503 is cheap and would flatter the server.
  const ok = latencies.length;
  const per = (us: number): number => us / Math.max(ok, 1);
  return {
    rps: ok / duration,
    cpuPerRequest: per(cpu1.all - cpu0.all),
    mainPerRequest: per(cpu1.main - cpu0.main),
    p50: at(0.5),
    p99: at(0.99),
    ok,
    bad: r.non2xx + r.errors + r.timeouts,
  };
}

const fmt = (n: number, d = 0): string => n.toFixed(d);

/** Whether one process of this server can take `rate` requests/s of this body size, and if not, what would. */
function feedVerdict(rate: number, kib: number, points: Map<string, Point>): string {
  const p = points.get('smart-turn')!;
  const ceiling = 1e6 / p.mainPerRequest;
  const head = `\n${kib} KiB: one process's main thread takes ${fmt(p.mainPerRequest)} µs per request (all threads ${fmt(p.cpuPerRequest)} µs), ` +
    `so it answers at most ${fmt(ceiling)} req/s (measured ${fmt(p.rps)}); bare node:http takes ${fmt(points.get('bare')!.mainPerRequest)} µs.`;
  if (ceiling >= rate) return `${head} That feeds ${rate} clips/s: one process is enough.`;
  return `${head} That does not feed ${rate} clips/s: run ${Math.ceil(rate / ceiling)} processes (cluster on one port), ` +
    'or move per-request work (body parsing, sample passes) off the main thread, or do less of it per request.\n';
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  o.pin = pinLoadGenerator(o.pin);
  const profDir = path.join(ROOT, '.cache/profiles');
  if (o.cpuProf) mkdirSync(profDir, { recursive: true });

  const targets = [await startTarget('bare', 'bare', {}, o, profDir), await startTarget('smart-turn', 'smart-turn', {}, o, profDir)];
  for (const dir of o.also) targets.push(await startTarget(`smart-turn @ ${path.basename(dir)}`, 'smart-turn', {}, o, profDir, dir));
  for (const env of o.variants) {
    targets.push(await startTarget(`smart-turn ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}`, 'smart-turn', env, o, profDir));
  }
  console.log(
    `# bench:server — ${o.duration} s per point, autocannon 8 in its own process${o.pin ? ' (load generator pinned to CPU 1, servers to CPU 0)' : ' (unpinned)'}, node ${process.version}`,
  );
  try {
    for (const kib of o.sizes) {
      const body = npyBody(kib * 1024);
      for (const t of targets) await load(t, body, 16, 1); // JIT warm-up per body size
      console.log(`\n## ${kib} KiB body`);
      console.log('| c | target | req/s | p50 ms | p99 ms | CPU µs/req | main thread µs/req | errors | bare/this req/s | this/bare p99 | this/bare CPU |');
      console.log('|---|---|---|---|---|---|---|---|---|---|---|');
      for (const c of o.concurrency) {
        const points = new Map<string, Point>();
        for (const t of targets) points.set(t.label, await load(t, body, c, o.duration));
        const base = points.get('bare')!;
        for (const [label, p] of points) {
          const ratios =
            label === 'bare' ? '| | |' : `| ${fmt(base.rps / p.rps, 2)}× | ${fmt(p.p99 / base.p99, 2)}× | ${fmt(p.cpuPerRequest / base.cpuPerRequest, 2)}× |`;
          console.log(`| ${c} | ${label} | ${fmt(p.rps)} | ${fmt(p.p50, 2)} | ${fmt(p.p99, 2)} | ${fmt(p.cpuPerRequest)} | ${fmt(p.mainPerRequest)} | ${p.bad} ${ratios}`);
        }
        if (o.feed !== undefined && c === o.concurrency[o.concurrency.length - 1]) console.log(feedVerdict(o.feed, kib, points));
      }
    }
  } finally {
    await Promise.all(targets.map(stopTarget));
  }
  if (o.cpuProf) console.log(`\nCPU profiles in ${profDir} (the largest file per folder is the server's main thread: npx tsx bench/profile.ts <file>)`);
}

await main();
