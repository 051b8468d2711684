// A child process for test/native.test.ts: in worker threads, opens the addon's host TEST executor,
// starts batches, and terminates the worker while they are in flight, at points spread over their
// run (before, around and after they finish). Prints "ok" if the process survived every one; a
// broken teardown aborts it instead ("terminate called after throwing ...").
//   node --import tsx test/helpers/native-teardown.ts [rounds] [executor: test-host (default) or test-cuda]
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// CommonJS in the worker: it loads the addon as the server does, through node-gyp-build.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const addon = require(${JSON.stringify(`${ROOT}node_modules/node-gyp-build`)})(${JSON.stringify(ROOT)});
(async () => {
  const engine = await addon.open({ executor: workerData.executor, buckets: [1, 2], test: { delayMs: workerData.delayMs } });
  const batches = [];
  for (const bucket of [1, 2]) for (let k = 0; k < 2; k++) batches.push(engine.infer(engine.lease(bucket), 1));
  parentPort.postMessage('launched');
  // Sometimes keep the JS thread busy, so results queue up for a thread that is being terminated.
  if (workerData.blockMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.blockMs);
  await Promise.all(batches);
})();
`;

const rounds = Number(process.argv[2] ?? 24);
const executor = process.argv[3] ?? 'test-host';
for (let i = 0; i < rounds; i++) {
  const delayMs = [0, 5, 20, 40][i % 4]!;
  const worker = new Worker(WORKER, { eval: true, workerData: { executor, delayMs, blockMs: i % 3 === 0 ? delayMs + 10 : 0 } });
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const afterMs = [0, delayMs / 2, delayMs, delayMs + 2][Math.floor(i / 4) % 4]!;
  await new Promise((resolve) => setTimeout(resolve, afterMs));
  await worker.terminate();
}
console.log('ok');
