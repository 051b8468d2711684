// One server under load for bench/server.ts and bench/stream.ts, in its own process so the load
// generator does not share its event loop: `bare` (node:http that reads the body and answers a fixed
// JSON), `smart-turn` (the real service on the zero-cost backend, v2 family) or `smart-turn-v3` (the
// same with v3's Whisper features). Prints `PORT <n>` once listening and `CPU <µs> <µs>` (its CPU time
// so far: all threads, then the main thread alone, which bounds one process's rate) on SIGUSR2; exits
// on SIGTERM, which also writes the CPU profile when started with --cpu-prof.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { loadConfig } from '../ts/config.js';
import { startService } from '../ts/service.js';
import type { ModelFamily } from '../ts/model/family.js';
import { smartTurnV2 } from '../ts/model/v2.js';
import { smartTurnV3 } from '../ts/model/v3.js';
import { ZeroCostBackend } from './lib/zero-cost-backend.js';

const BARE_ANSWER = JSON.stringify({ prediction: 1, probability: 0.75, metrics: { inference_time: 0, total_time: 0 } });

async function bare(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      void body;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(BARE_ANSWER);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function smartTurn(env: Record<string, string>, family: ModelFamily = smartTurnV2): Promise<{ port: number; close(): Promise<void> }> {
  const config = loadConfig({ BACKEND: 'onnx', HOST: '127.0.0.1', PORT: '0', ...env });
  // Production logs one line per request: keep that cost, but not the terminal's.
  const log = pino({ level: config.logLevel, base: { service: 'smart-turn' } }, pino.destination({ dest: '/dev/null', sync: true }));
  const service = await startService(config, log, { backend: new ZeroCostBackend(family) });
  return { port: service.port, close: () => service.stop() };
}

const [kind = 'bare'] = process.argv.slice(2);
// Everything else the parent passes through as SMART_TURN_BENCH_ENV (JSON): MICRO_BATCH_WINDOW_MS, LOG_LEVEL...
const env = JSON.parse(process.env['SMART_TURN_BENCH_ENV'] ?? '{}') as Record<string, string>;
const target = kind === 'bare' ? await bare() : await smartTurn(env, kind === 'smart-turn-v3' ? smartTurnV3 : smartTurnV2);
process.stdout.write(`PORT ${target.port}\n`);
const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
/** The main thread's CPU time (Linux: utime + stime of /proc/self/task/<pid>/stat), µs. */
function mainThreadCpu(): number {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / ticksPerSecond) * 1e6;
}
process.on('SIGUSR2', () => {
  const { user, system } = process.cpuUsage();
  process.stdout.write(`CPU ${user + system} ${Math.round(mainThreadCpu())}\n`);
});
process.once('SIGTERM', () => {
  void target.close().finally(() => process.exit(0));
});
