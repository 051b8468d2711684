// A load generator in its own process, so that sending does not compete with the server for this
// process's event loop. Open loop: `total` POSTs of one body at `rate` per second. Closed loop
// (`closed:C`): C connections each sending the next request as soon as its answer is in, `total` in
// all. Prints one JSON line: every request's status, latency and Retry-After.
//   node --import tsx test/helpers/loadgen.ts <url> <body-file> <rate | closed:C> <total>
import { readFileSync } from 'node:fs';
import http from 'node:http';

export interface Shot {
  status: number; // 0: no HTTP answer
  ms: number;
  retryAfter?: string;
  probability?: number;
  code?: string;
}

const [url, file, mode, totalText] = process.argv.slice(2);
const body = readFileSync(file!);
const total = Math.min(Number(totalText), 5000);
const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
const shots: Shot[] = [];

function shoot(): Promise<void> {
  const start = performance.now();
  return new Promise((resolve) => {
    const req = http.request(url!, { method: 'POST', agent, headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        const json = JSON.parse(text);
        shots.push({ status: res.statusCode!, ms: performance.now() - start, retryAfter: res.headers['retry-after'], probability: json.probability, code: json.error?.code });
        resolve();
      });
    });
    req.on('error', () => {
      shots.push({ status: 0, ms: performance.now() - start });
      resolve();
    });
    req.end(body);
  });
}

const t0 = performance.now();
if (mode!.startsWith('closed:')) {
  let started = 0;
  const connection = async (): Promise<void> => {
    while (started < total) {
      started++;
      await shoot();
    }
  };
  await Promise.all(Array.from({ length: Number(mode!.slice(7)) }, connection));
} else {
  const rate = Number(mode);
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = t0 + (i / rate) * 1000 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(shoot());
  }
  await Promise.all(pending);
}
agent.destroy();
process.stdout.write(JSON.stringify({ seconds: (performance.now() - t0) / 1000, shots }) + '\n');
