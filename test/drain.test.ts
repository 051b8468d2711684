// Signals on the real process (ts/main.ts): SIGTERM stops accepting, answers everything accepted and
// exits 0; a second signal exits at once; a drain longer than SHUTDOWN_TIMEOUT_MS ends by the signal at that
// time; a signal during start-up exits 0 with nothing accepted. Every assertion is about order and
// counts (which log line came first, which requests were answered), never about how long a step took,
// so a busy machine cannot fail it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { encodeNpy } from '../tools/lib/npy.js';
import { expectedV2, READOUT_V2, SLOW_V2, TOLERANCE } from './helpers/fixtures.js';
import { queueDepth, spawnServerProcess, startServerProcess as startServer, type SpawnedServer } from './helpers/server-process.js';
import { fixture, post, type Answer } from './helpers/service.js';
import { int16Bytes, openStream } from './helpers/stream.js';
import { silentServer } from './helpers/tools.js';

const f4 = readFileSync(fixture('npy/f4.npy'));

/** Sends `bodies` at once and waits until the server holds all of them in its queue. */
async function queueAll(url: string, bodies: Buffer[]): Promise<Array<Promise<Answer | undefined>>> {
  let answered = 0;
  const answers = bodies.map((body) =>
    post(`${url}/raw`, body).then(
      (a) => ((answered += 1), a),
      () => ((answered += 1), undefined),
    ),
  );
  while ((await queueDepth(url)) < bodies.length) {
    // The 1 s window closed before every request was in: then this run cannot show a drain.
    if (answered > 0) throw new Error('a request was answered before all were queued: the machine is too slow for a 1 s window');
    await new Promise((r) => setTimeout(r, 10));
  }
  return answers;
}

/**
 * The slow fixture, one thread, one bucket of 8: six queued clips (fewer than the bucket, so they wait
 * for the 1 s window) take the drain seconds of real work; a deadline long enough that admission takes them.
 */
const SLOW = { MODEL_PATH: SLOW_V2, ORT_INTRA_OP_THREADS: '1', MICRO_BATCH_WINDOW_MS: '1000', BATCH_BUCKETS: '8', REQUEST_TIMEOUT_MS: '60000' };

const messages = (server: SpawnedServer): string[] => server.lines.map((l) => String(l['msg'])).filter((m) => m !== 'request');

describe('drain (signals on the real process)', function () {
  this.timeout(60_000);

  it('answers every accepted request after SIGTERM, each its own, at once, refuses new connections, and exits 0', async () => {
    // A 1 s window keeps the requests queued until the signal; the drain dispatches them at once.
    const server = await startServer({ MODEL_PATH: READOUT_V2, MICRO_BATCH_WINDOW_MS: '1000', BATCH_BUCKETS: '64' });
    const clips = Array.from({ length: 20 }, (_, i) => new Float32Array(16_000).map((_, j) => Math.sin(j / (5 + i))));
    const answers = await queueAll(server.url, clips.map((clip) => encodeNpy(clip)));
    server.child.kill('SIGTERM');
    const results = await Promise.all(answers);
    expect(results.map((r) => r?.status)).to.deep.equal(Array(20).fill(200));
    results.forEach((r, i) => expect(r!.json.probability, `clip ${i}`).to.be.closeTo(expectedV2(clips[i]!), TOLERANCE));
    expect(await server.exit).to.deep.equal({ code: 0, signal: null });
    // All 20 rode in one batch that left on the signal: neither the bucket (64) filled nor did the
    // window close first, since every answer was logged after the drain began.
    const draining = server.lines.findIndex((l) => String(l['msg']).startsWith('draining'));
    const requests = server.lines.map((l, i) => [l, i] as const).filter(([l]) => l['msg'] === 'request' && l['path'] === '/raw');
    expect(requests.map(([l]) => [l['status'], l['batchSize']])).to.deep.equal(Array(20).fill([200, 20]));
    expect(requests.every(([, i]) => i > draining), 'answered after the signal').to.equal(true);
    expect(messages(server).slice(-2)).to.deep.equal(['draining: answering accepted requests, then exiting', 'drained; bye']);
    const after = await fetch(`${server.url}/health`).catch((error: Error) => error);
    expect(after).to.be.instanceOf(Error);
  });

  it('answers a stream\'s pending prediction after SIGTERM, then closes the stream with 1001', async () => {
    const server = await startServer({ MODEL_PATH: READOUT_V2, MICRO_BATCH_WINDOW_MS: '1000', BATCH_BUCKETS: '64' });
    const stream = await openStream(server.url);
    const audio = new Float32Array(16_000).map((_, j) => 0.3 * Math.sin(j / 5));
    await stream.send(int16Bytes(audio));
    await stream.predict('pending');
    while ((await queueDepth(server.url)) < 1) await new Promise((r) => setTimeout(r, 10));
    server.child.kill('SIGTERM');
    expect(await stream.next()).to.include({ type: 'result', id: 'pending' });
    expect(await stream.closed).to.deep.equal({ code: 1001, reason: 'server shutting down' });
    expect(await server.exit).to.deep.equal({ code: 0, signal: null });
  });

  it('exits at once, by the signal, on a second signal', async () => {
    const server = await startServer(SLOW);
    const answers = await queueAll(server.url, Array(6).fill(f4));
    server.child.kill('SIGTERM');
    await server.logged('draining');
    server.child.kill('SIGTERM');
    expect(await server.exit).to.deep.equal({ code: null, signal: 'SIGTERM' });
    expect(messages(server)).to.include('second signal: exiting now');
    expect(messages(server)).not.to.include('drained; bye');
    // Six clips of the slow model were still to compute: the process did not wait for them.
    const answered = (await Promise.all(answers)).filter((a) => a?.status === 200).length;
    expect(answered).to.equal(0);
  });

  it('ends by the signal once SHUTDOWN_TIMEOUT_MS has passed with the drain unfinished', async () => {
    const server = await startServer({ ...SLOW, SHUTDOWN_TIMEOUT_MS: '300' });
    const answers = await queueAll(server.url, Array(6).fill(f4));
    const t0 = performance.now();
    server.child.kill('SIGTERM');
    expect(await server.exit).to.deep.equal({ code: null, signal: 'SIGTERM' });
    // A timer never fires early: the process gave the drain its full SHUTDOWN_TIMEOUT_MS.
    expect(performance.now() - t0).to.be.at.least(300);
    const timeout = server.lines.find((l) => String(l['msg']).startsWith('SHUTDOWN_TIMEOUT_MS passed'));
    expect(timeout).to.include({ timeoutMs: 300 });
    expect(messages(server)).not.to.include('drained; bye');
    const answered = (await Promise.all(answers)).filter((a) => a?.status === 200).length;
    expect(answered, 'it exited with work left, not after the drain').to.equal(0);
  });

  it('exits 0 on a signal during start-up, before anything is accepted', async () => {
    // Start-up waits on a Hub that accepts connections and never answers: it cannot finish by itself.
    const hub = await silentServer();
    const cache = mkdtempSync(path.join(os.tmpdir(), 'st-drain-hub-'));
    try {
      const server = spawnServerProcess({ MODEL_ID: 'org/model', MODEL_FILE: 'model.onnx', BACKEND: 'onnx', HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, HF_HUB_ETAG_TIMEOUT: '60' });
      await server.logged('starting');
      server.child.kill('SIGTERM');
      expect(await server.exit).to.deep.equal({ code: 0, signal: null });
      expect(messages(server)).to.deep.equal(['starting', 'signal during start-up: nothing accepted yet; exiting']);
    } finally {
      await hub.close();
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
