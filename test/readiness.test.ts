// GET /ready (ts/readiness.ts) over HTTP: 503 while warming up, 200 once warm; while draining the
// server no longer listens, so a readiness probe cannot connect. /health answers whenever it listens.
// Backend failures turning /ready 503 are in admission.test.ts.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { OnnxBackend } from '../ts/backends/onnx.js';
import { GatedBackend } from './helpers/backends.js';
import { READOUT_V2 } from './helpers/fixtures.js';
import { fixture, startTestService, type TestService } from './helpers/service.js';

const f4 = readFileSync(fixture('npy/f4.npy'));

/** One request through `agent`, with the answer's Connection header. */
function request(agent: http.Agent, url: string, body?: Buffer): Promise<{ status: number; json: any; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, method: body ? 'POST' : 'GET', headers: body ? { 'content-type': 'application/octet-stream' } : {} }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text), connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const until = async (condition: () => boolean): Promise<void> => {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
};

describe('readiness (/ready)', () => {
  let svc: TestService | undefined;
  afterEach(async () => svc?.stop());

  it('is 503 "warming up" while warm-up runs (and /health 200), then 200', async () => {
    const backend = new GatedBackend(await OnnxBackend.open({ modelPath: READOUT_V2, buckets: [1, 2] }));
    backend.hold(); // warm-up's first batch waits here
    let port = 0;
    const lines = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry['msg'] === 'listening; warming up') port = entry['port'] as number;
        }
        done();
      },
    });
    const starting = startTestService({}, backend, lines);
    await until(() => port > 0 && backend.batches.length > 0);
    const warming = await fetch(`http://127.0.0.1:${port}/ready`);
    expect([warming.status, await warming.json()]).to.deep.equal([503, { ready: false, reason: 'warming up' }]);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).to.equal(200);
    backend.release();
    svc = await starting;
    const ready = await fetch(`${svc.url}/ready`);
    expect([ready.status, await ready.json()]).to.deep.equal([200, { ready: true, reason: 'ok' }]);
  });

  it('once draining: refuses new connections (a probe fails, as on a 503), answers what it accepted with Connection: close', async () => {
    const backend = new GatedBackend(await OnnxBackend.open({ modelPath: READOUT_V2, buckets: [1] }));
    const service = await startTestService({ MICRO_BATCH_WINDOW_MS: '0' }, backend);
    svc = service;
    backend.hold();
    const started = backend.batches.length;
    const accepted = request(new http.Agent({ keepAlive: true }), `${service.url}/raw`, f4);
    await until(() => backend.batches.length === started + 1);
    const stopping = service.stop();
    expect(service.readiness.check()).to.deep.equal({ ready: false, reason: 'shutting down' });
    const probe = await fetch(`${service.url}/ready`).catch((error: Error) => error);
    expect(probe).to.be.instanceOf(Error);
    expect(((probe as Error).cause as NodeJS.ErrnoException).code).to.equal('ECONNREFUSED');
    backend.release();
    const answer = await accepted;
    expect([answer.status, answer.connection]).to.deep.equal([200, 'close']);
    await stopping;
  });
});
