// npm run bench:stream [-- options]: the wait at a pause, POST /raw against GET /stream, over an
// emulated link.
//
// Conversations talk through a link emulator (bench/lib/link.ts: a TCP proxy on 127.0.0.1 with a
// bandwidth cap and a one-way delay per direction, shared by all conversations as a bot host's link to
// the turn server is) to this server on the zero-cost backend (bench/lib/zero-cost-backend.ts), in a
// child process. Each conversation alternates speaking (1-2 s) and a pause; at the pause it asks, and
// the time from the pause to the answer is measured:
//   raw-f32  waits while speaking, then POSTs the last 8 s as float32 .npy (512 KiB), as Pipecat does;
//   raw-i16  the same as int16 .npy (256 KiB);
//   stream   sends 20 ms int16 frames in real time while speaking, then a predict message.
// Then it stays quiet (the agent's turn: 1-3 s, 0.2 s with one conversation) and speaks again.
// Points alternate transports within a link and a concurrency, so drift on a shared machine hits all.
//
//   --links LIST        Mbit/s:RTT ms pairs, or `direct` for loopback without the emulator: the floor
//                       this machine sets (default direct,100:10,1000:1)
//   --concurrency LIST  conversations at once (default 1,64)
//   --transports LIST   default raw-f32,raw-i16,stream
//   --turns N           pauses per conversation (default 12 with one conversation, 4 with more)
//   --family v2|v3      the zero-cost backend's model family (default v2; v3 computes Whisper features)
//   --server-env K=V,.. the server's settings, e.g. MICRO_BATCH_WINDOW_MS=0
//   --no-pin            don't pin the server to CPU 0 and this process to CPU 1
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Client } from 'undici';
import WebSocket from 'ws';
import { encodeNpy } from '../tools/lib/npy.js';
import { spread } from '../tools/lib/stats.js';
import { pinLoadGenerator } from './lib/bench.js';
import { linkThread, type Lateness, type LinkOptions } from './lib/link.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RATE = 16_000;
const FRAME_MS = 20;
const FRAME = (RATE * FRAME_MS) / 1000;
const RAW_SECONDS = 8;

type Transport = 'raw-f32' | 'raw-i16' | 'stream';
/** No emulator: conversations connect to the server itself. */
const DIRECT: LinkOptions = { mbps: Infinity, rttMs: 0 };

interface Options {
  links: LinkOptions[];
  concurrency: number[];
  transports: Transport[];
  turns: number | undefined;
  family: 'v2' | 'v3';
  serverEnv: Record<string, string>;
  pin: boolean;
}

function options(argv: string[]): Options {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      links: { type: 'string', default: 'direct,100:10,1000:1' },
      concurrency: { type: 'string', default: '1,64' },
      transports: { type: 'string', default: 'raw-f32,raw-i16,stream' },
      turns: { type: 'string' },
      family: { type: 'string', default: 'v2' },
      'server-env': { type: 'string', default: '' },
      'no-pin': { type: 'boolean', default: false },
    },
  });
  if (v.family !== 'v2' && v.family !== 'v3') throw new Error(`--family is v2 or v3, got ${v.family}`);
  return {
    links: v.links.split(',').map((pair) => {
      if (pair === 'direct') return DIRECT;
      const [mbps, rttMs] = pair.split(':').map(Number);
      return { mbps: mbps!, rttMs: rttMs! };
    }),
    concurrency: v.concurrency.split(',').map(Number),
    transports: v.transports.split(',') as Transport[],
    turns: v.turns === undefined ? undefined : Number(v.turns),
    family: v.family,
    serverEnv: Object.fromEntries(v['server-env'].split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string])),
    pin: !v['no-pin'],
  };
}

/** One answer: from the pause to the answer, and what the server said it spent. */
interface Sample {
  ms: number;
  serverMs: number;
  batchMs: number;
}

/** 10 s of quiet noise as int16: every conversation speaks slices of it. */
const VOICE = Int16Array.from({ length: 10 * RATE }, () => Math.round((Math.random() - 0.5) * 0.2 * 32768));
const frameAt = (k: number): Buffer => {
  const at = (k * FRAME) % (VOICE.length - FRAME);
  return Buffer.from(VOICE.buffer, at * 2, FRAME * 2);
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

interface Cycle {
  speakMs(): number;
  quietMs(): number;
}

async function streamConversation(port: number, turns: number, cycle: Cycle, out: Sample[]): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/stream?sample_rate=${RATE}&sample_type=int16`);
  const waiting = new Map<number, (m: any) => void>();
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    waiting.get(m.id)?.(m);
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const ask = (id: number): Promise<any> =>
    new Promise((resolve) => {
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ type: 'predict', id }));
    });
  ws.send(frameAt(0));
  await ask(0); // warm: connection, server-side turn
  let frame = 0;
  for (let turn = 1; turn <= turns; turn++) {
    ws.send('{"type":"reset"}');
    const frames = Math.round(cycle.speakMs() / FRAME_MS);
    const start = performance.now();
    for (let k = 0; k < frames; k++) {
      await sleep(start + k * FRAME_MS - performance.now());
      ws.send(frameAt(frame++));
    }
    await sleep(start + frames * FRAME_MS - performance.now()); // the pause: the last frame has played
    const t0 = performance.now();
    const m = await ask(turn);
    out.push({ ms: performance.now() - t0, serverMs: m.metrics.total_time * 1000, batchMs: m.metrics.inference_time * 1000 });
    await sleep(cycle.quietMs());
  }
  ws.close();
}

async function rawConversation(port: number, turns: number, cycle: Cycle, body: Buffer, out: Sample[]): Promise<void> {
  const client = new Client(`http://127.0.0.1:${port}`);
  const post = async (bytes: Buffer): Promise<any> => {
    const r = await client.request({ path: '/raw', method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    const json = await r.body.json();
    if (r.statusCode !== 200) throw new Error(`POST /raw answered ${r.statusCode}: ${JSON.stringify(json)}`);
    return json;
  };
  await post(encodeNpy(Float32Array.from(VOICE.subarray(0, FRAME), (v) => v / 32768), '<i2')); // warm: connection
  for (let turn = 1; turn <= turns; turn++) {
    await sleep(cycle.speakMs());
    const t0 = performance.now();
    const m = await post(body);
    out.push({ ms: performance.now() - t0, serverMs: m.metrics.total_time * 1000, batchMs: m.metrics.inference_time * 1000 });
    await sleep(cycle.quietMs());
  }
  await client.close();
}

interface Point {
  samples: Sample[];
  lateness: Lateness;
  /** This process's event-loop delay p99, ms: when high, the load generator itself was late. */
  loopDelayP99: number;
}

async function measure(serverPort: number, link: LinkOptions, transport: Transport, conversations: number, turns: number): Promise<Point> {
  const proxy = link === DIRECT ? { port: serverPort, close: async (): Promise<Lateness> => ({ p50: 0, p99: 0, count: 0 }) } : await linkThread(serverPort, link);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const uniform = (lo: number, hi: number): number => lo + (hi - lo) * Math.random();
  const cycle: Cycle = {
    speakMs: () => uniform(1000, 2000),
    quietMs: () => (conversations === 1 ? 200 : uniform(1000, 3000)),
  };
  const last8s = VOICE.subarray(VOICE.length - RAW_SECONDS * RATE);
  const body = encodeNpy(Float32Array.from(last8s, (v) => v / 32768), transport === 'raw-i16' ? '<i2' : '<f4');
  const samples: Sample[] = [];
  await Promise.all(
    Array.from({ length: conversations }, async () => {
      if (conversations > 1) await sleep(uniform(0, 3500)); // conversations are not in step
      return transport === 'stream'
        ? streamConversation(proxy.port, turns, cycle, samples)
        : rawConversation(proxy.port, turns, cycle, body, samples);
    }),
  );
  loop.disable();
  return { samples, lateness: await proxy.close(), loopDelayP99: loop.percentile(99) / 1e6 };
}

async function startServer(o: Options): Promise<{ port: number; child: ChildProcess }> {
  const args = ['--import', 'tsx', path.join(ROOT, 'bench/server-target.ts'), o.family === 'v3' ? 'smart-turn-v3' : 'smart-turn'];
  const [cmd, argv] = o.pin ? ['taskset', ['-c', '0', process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(cmd, argv as string[], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SMART_TURN_BENCH_ENV: JSON.stringify(o.serverEnv) } });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      const m = /^PORT (\d+)$/m.exec(d.toString());
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening`)));
  });
  return { port, child };
}

const f = (n: number | undefined, d = 1): string => (n === undefined ? '-' : n.toFixed(d));

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  o.pin = pinLoadGenerator(o.pin);
  const server = await startServer(o);
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  console.log(
    `# bench:stream — zero-cost backend (${o.family} family${Object.keys(o.serverEnv).length ? `, ${JSON.stringify(o.serverEnv)}` : ''}), ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), load average ${load} at the start, node ${process.version}` +
      (o.pin ? '; server pinned to CPU 0, conversations and link to CPU 1' : '; unpinned'),
  );
  console.log('# pause → answer, ms; "timers" is how late the link emulator delivered (p50 per direction, Node timers have 1 ms resolution)');
  console.log('# server: total_time as the server reports it; generator lag: this process\'s event-loop delay p99');
  console.log('| link | conversations | transport | answers | p50 ms | p99 ms | server p50 / p99 ms | batch p50 ms | goal ms (RTT + timers + batch + 2) | p50 / p99 within goal | generator lag ms | upload per pause |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  try {
    for (const link of o.links) {
      for (const c of o.concurrency) {
        const turns = o.turns ?? (c === 1 ? 12 : 4);
        const points = new Map<Transport, Point>();
        for (const transport of o.transports) points.set(transport, await measure(server.port, link, transport, c, turns));
        for (const [transport, p] of points) {
          const ms = spread(p.samples.map((s) => s.ms));
          const batch = spread(p.samples.map((s) => s.batchMs));
          const serverMs = spread(p.samples.map((s) => s.serverMs));
          const goal = link.rttMs + 2 * p.lateness.p50 + (batch?.p50 ?? 0) + 2;
          const upload = transport === 'stream' ? 'a predict message' : `${transport === 'raw-i16' ? 256 : 512} KiB`;
          const within = transport === 'stream' ? `${ms && ms.p50 <= goal ? 'yes' : 'no'} / ${ms && ms.p99 <= goal ? 'yes' : 'no'}` : '';
          const where = link === DIRECT ? 'loopback, no emulator' : `${link.mbps} Mbit/s, ${link.rttMs} ms RTT`;
          console.log(
            `| ${where} | ${c} | ${transport} | ${ms?.n ?? 0} | ${f(ms?.p50)} | ${f(ms?.p99)} | ${f(serverMs?.p50)} / ${f(serverMs?.p99)} | ${f(batch?.p50, 2)} | ${f(goal)} (timers ${f(p.lateness.p50, 2)}) | ${within} | ${f(p.loopDelayP99)} | ${upload} |`,
          );
        }
      }
    }
  } finally {
    const exited = new Promise((resolve) => server.child.once('exit', resolve));
    server.child.kill('SIGTERM');
    await exited;
  }
  console.log(`# load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`);
}

await main();
