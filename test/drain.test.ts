// SIGTERM on the real process: stop accepting, answer everything accepted, exit 0; a second signal
// exits at once.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { encodeNpy } from '../tools/lib/npy.js';
import { queueDepth, startServerProcess as startServer } from './helpers/server-process.js';
import { fixture, fixtureProbability, post } from './helpers/service.js';
import { int16Bytes, openStream } from './helpers/stream.js';

const f4 = readFileSync(fixture('npy/f4.npy'));

describe('drain', function () {
  this.timeout(30_000);

  it('answers every accepted request after SIGTERM, refuses new connections, and exits 0', async () => {
    // A long window keeps the requests queued until the signal; draining dispatches them at once.
    const server = await startServer({ MODEL_PATH: fixture('models/mean-v2.onnx'), MICRO_BATCH_WINDOW_MS: '1000', BATCH_BUCKETS: '64' });
    const lengths = Array.from({ length: 20 }, (_, i) => 1600 * (i + 1));
    const bodies = lengths.map((n) => encodeNpy(new Float32Array(n).map((_, j) => Math.sin(j / 5))));
    const answers = Promise.all(bodies.map((body) => post(`${server.url}/raw`, body)));
    while ((await queueDepth(server.url)) < 20) await new Promise((r) => setTimeout(r, 10));
    const t0 = performance.now();
    server.child.kill('SIGTERM');
    const results = await answers;
    expect(results.map((r) => r.status)).to.deep.equal(Array(20).fill(200));
    results.forEach((r, i) => expect(r.json.probability).to.be.closeTo(fixtureProbability(lengths[i]!), 1e-6));
    expect(await server.exit).to.deep.equal({ code: 0, signal: null });
    expect(performance.now() - t0).to.be.lessThan(900); // the 1 s window did not have to pass
    expect(server.lines.some((l) => l['msg'] === 'drained; bye')).to.equal(true);
    const after = await fetch(`${server.url}/health`).catch((error: Error) => error);
    expect(after).to.be.instanceOf(Error);
  });

  it('answers a stream\'s pending prediction after SIGTERM, then closes the stream with 1001', async () => {
    const server = await startServer({ MODEL_PATH: fixture('models/mean-v2.onnx'), MICRO_BATCH_WINDOW_MS: '1000', BATCH_BUCKETS: '64' });
    const stream = await openStream(server.url);
    const audio = new Float32Array(16_000).map((_, j) => 0.3 * Math.sin(j / 5));
    await stream.send(int16Bytes(audio));
    await stream.predict('pending');
    while ((await queueDepth(server.url)) < 1) await new Promise((r) => setTimeout(r, 10));
    server.child.kill('SIGTERM');
    const answer = await stream.next();
    expect(answer).to.include({ type: 'result', id: 'pending' });
    expect(await stream.closed).to.deep.equal({ code: 1001, reason: 'server shutting down' });
    expect(await server.exit).to.deep.equal({ code: 0, signal: null });
  });

  it('exits at once, by the signal, on a second signal', async () => {
    const server = await startServer({ MODEL_PATH: fixture('models/slow-v2.onnx'), ORT_INTRA_OP_THREADS: '1', MICRO_BATCH_WINDOW_MS: '1000', BATCH_BUCKETS: '64', REQUEST_TIMEOUT_MS: '60000' }); // 40 queued for a slow batch: admitted, not refused by the deadline
    const answers = Promise.all(Array.from({ length: 40 }, () => post(`${server.url}/raw`, f4).catch(() => undefined)));
    while ((await queueDepth(server.url)) < 40) await new Promise((r) => setTimeout(r, 10));
    const t0 = performance.now();
    server.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 50));
    server.child.kill('SIGTERM');
    expect(await server.exit).to.deep.equal({ code: null, signal: 'SIGTERM' });
    expect(performance.now() - t0).to.be.lessThan(1000);
    expect(server.lines.map((l) => l['msg']).filter((m) => m !== 'request')).to.include('second signal: exiting now');
    await answers;
  });
});
