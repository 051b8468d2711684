// GET /stream's upgrades against a real server: refusals with the catalogue's JSON before the
// handshake, the stream count, metrics, and the drain.
import net from 'node:net';
import { expect } from 'chai';
import { OnnxBackend } from '../../ts/backends/onnx.js';
import { encodeNpy } from '../../tools/lib/npy.js';
import { GatedBackend } from '../helpers/backends.js';
import { READOUT_V2 } from '../helpers/fixtures.js';
import { post, startTestService, type TestService } from '../helpers/service.js';
import { int16Bytes, openStream, refused, type TestStream } from '../helpers/stream.js';
import { noise } from '../reference/run.js';

/** A metric's value from /metrics, matched by name and labels (0 when absent). */
async function metric(url: string, series: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** What the server answers a hand-written upgrade request. */
function rawUpgrade(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.on('data', (d) => (text += d));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('stream/endpoint', function () {
  this.timeout(30_000);
  let svc: TestService;
  const open: TestStream[] = [];
  afterEach(async () => {
    open.splice(0).forEach((s) => s.ws.terminate());
    await svc?.stop();
  });

  describe('refuses an upgrade before it happens, with the status and JSON error a POST would get', () => {
    beforeEach(async () => {
      svc = await startTestService({ AUTH_KEY: 's3cret' });
    });
    const key = { authorization: 'Key s3cret' };

    it('without a key, naming the header', async () => {
      const r = await refused(svc.url);
      expect(r.status).to.equal(401);
      expect(r.headers['content-type']).to.match(/^application\/json/);
      expect(r.json.error).to.deep.equal({ code: 'UNAUTHORIZED', message: '/stream needs the header "Authorization: Key <AUTH_KEY>"' });
    });
    it('with a wrong key, echoing neither', async () => {
      const r = await refused(svc.url, undefined, { authorization: 'Key s3cres' });
      expect([r.status, r.json.error.code]).to.deep.equal([401, 'UNAUTHORIZED']);
      expect(JSON.stringify(r.json)).not.to.include('s3cre');
    });
    it('with a bad query', async () => {
      for (const [query, message] of [
        ['sample_type=int16', /missing: sample_rate/],
        ['sample_rate=200000&sample_type=int16', /8000 to 192000/],
        ['sample_rate=16000&sample_type=pcm_s16le', /int16 or float32/],
      ] as const) {
        const r = await refused(svc.url, query, key);
        expect([r.status, r.json.error.code]).to.deep.equal([400, 'BAD_QUERY']);
        expect(r.json.error.message).to.match(message);
      }
    });
    it('on another path', async () => {
      const text = await rawUpgrade(
        svc.port,
        'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      expect(text).to.match(/^HTTP\/1.1 404 /);
      expect(JSON.parse(text.split('\r\n\r\n')[1]!).error.code).to.equal('NOT_FOUND');
    });
    it('that is not a handshake ws can complete (426, JSON)', async () => {
      const text = await rawUpgrade(
        svc.port,
        'GET /stream?sample_rate=16000&sample_type=int16 HTTP/1.1\r\nHost: x\r\nAuthorization: Key s3cret\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 12\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      expect(text).to.match(/^HTTP\/1.1 426 /).and.to.match(/\r\nSec-WebSocket-Version: 13\r\n/);
      const body = JSON.parse(text.split('\r\n\r\n')[1]!);
      expect(body.error.code).to.equal('UPGRADE_REQUIRED');
      expect(body.error.message).to.match(/Sec-WebSocket-Version/);
    });
    it('a plain GET /stream is told to upgrade (426)', async () => {
      const r = await fetch(`${svc.url}/stream`, { headers: key });
      expect(r.status).to.equal(426);
      expect(r.headers.get('upgrade')).to.equal('websocket');
      expect((await r.json()).error.code).to.equal('UPGRADE_REQUIRED');
    });
    it('and still opens a good one', async () => {
      open.push(await openStream(svc.url, undefined, key));
    });
  });

  it('opens MAX_STREAMS streams at most, of several asked at once, refusing the others with Retry-After until one closes', async () => {
    svc = await startTestService({ MAX_STREAMS: '2' });
    // At 48 kHz each stream's resampler is made between its admission and its handshake.
    const attempts = await Promise.allSettled([1, 2, 3].map(() => openStream(svc.url, 'sample_rate=48000&sample_type=int16')));
    const opened = attempts.filter((a) => a.status === 'fulfilled').map((a) => (a as PromiseFulfilledResult<TestStream>).value);
    open.push(...opened);
    const refusals = attempts.filter((a) => a.status === 'rejected').map((a) => (a as PromiseRejectedResult).reason);
    expect(opened).to.have.length(2);
    expect(refusals).to.have.length(1);
    expect([refusals[0].status, refusals[0].json.error.code, refusals[0].headers['retry-after']]).to.deep.equal([503, 'TOO_MANY_STREAMS', '1']);
    expect(refusals[0].json.error.message).to.match(/MAX_STREAMS/);
    opened[0]!.ws.close();
    await opened[0]!.closed;
    while ((await metric(svc.url, 'smart_turn_streams_active')) > 1) await new Promise((r) => setTimeout(r, 10));
    open.push(await openStream(svc.url));
  });

  it('counts open streams, the audio they sent and predictions by transport', async () => {
    svc = await startTestService();
    expect(await metric(svc.url, 'smart_turn_predictions_total{transport="stream"}')).to.equal(0);
    const a = await openStream(svc.url);
    const b = await openStream(svc.url, 'sample_rate=8000&sample_type=float32');
    open.push(a, b);
    expect(await metric(svc.url, 'smart_turn_streams_active')).to.equal(2);
    await a.send(int16Bytes(noise(8000, 0.2, 1))); // 0.5 s at 16 kHz
    await b.send(Buffer.from(noise(4000, 0.2, 2).buffer)); // 0.5 s at 8 kHz
    await a.predict(1);
    await a.predict(2);
    await a.next();
    await a.next();
    await post(`${svc.url}/raw`, encodeNpy(noise(1600, 0.2, 3)));
    expect(await metric(svc.url, 'smart_turn_stream_audio_seconds_total')).to.be.closeTo(1, 1e-9);
    expect(await metric(svc.url, 'smart_turn_predictions_total{transport="stream"}')).to.equal(2);
    expect(await metric(svc.url, 'smart_turn_predictions_total{transport="raw"}')).to.equal(1);
    a.ws.close();
    b.ws.close();
    await Promise.all([a.closed, b.closed]);
    while ((await metric(svc.url, 'smart_turn_streams_active')) > 0) await new Promise((r) => setTimeout(r, 10));
  });

  it('on stop, answers the predictions asked, refuses later ones, then closes every stream with 1001', async () => {
    const backend = new GatedBackend(await OnnxBackend.open({ modelPath: READOUT_V2 }));
    svc = await startTestService({ MICRO_BATCH_WINDOW_MS: '0' }, backend);
    const stream = await openStream(svc.url);
    const idle = await openStream(svc.url);
    open.push(stream, idle);
    backend.hold();
    await stream.send(int16Bytes(noise(16_000, 0.2, 4)));
    await stream.predict('asked');
    while (backend.batches.length === 0) await new Promise((r) => setTimeout(r, 5));
    const raw = post(`${svc.url}/raw`, encodeNpy(noise(1600, 0.2, 5)));
    while (svc.batcher.queueDepth + svc.batcher.inFlight < 2) await new Promise((r) => setTimeout(r, 5));
    const stopped = svc.stop();
    await stream.predict('late');
    // The server no longer accepts connections: read its registry in process.
    const refusedLate = async (): Promise<boolean> => (await svc.metrics.registry.getSingleMetricAsString('smart_turn_rejected_total')).includes('reason="shutting_down"} 1');
    while (!(await refusedLate())) await new Promise((r) => setTimeout(r, 5));
    backend.release();
    expect(await stream.next()).to.include({ type: 'result', id: 'asked' });
    expect(await stream.next()).to.include({ type: 'error', id: 'late', code: 'SHUTTING_DOWN' });
    expect(await stream.closed).to.deep.equal({ code: 1001, reason: 'server shutting down' });
    expect(await idle.closed).to.deep.equal({ code: 1001, reason: 'server shutting down' });
    expect((await raw).status).to.equal(200);
    await stopped;
  });
});
