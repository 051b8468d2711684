// One stream's messages against a real server (readout-v2 fixture on ONNX Runtime): bad messages first,
// then limits, then the normal path, each compared with what POST /raw answers for the same audio.
import { expect } from 'chai';
import { OnnxBackend } from '../../ts/backends/onnx.js';
import { MAX_TEXT_BYTES } from '../../ts/stream/session.js';
import { encodeNpy } from '../../tools/lib/npy.js';
import { GatedBackend } from '../helpers/backends.js';
import { READOUT_V2 } from '../helpers/fixtures.js';
import { post, startTestService, type TestService } from '../helpers/service.js';
import { float32Bytes, int16Bytes, openStream, sendChunked, type TestStream } from '../helpers/stream.js';
import { noise } from '../reference/run.js';

/** Audio as int16 PCM would carry it, back in float32 (what both transports then see). */
function asInt16(x: Float32Array): Float32Array {
  const bytes = int16Bytes(x);
  return Float32Array.from(new Int16Array(bytes.buffer, bytes.byteOffset, x.length), (v) => v / 32768);
}

async function raw(svc: TestService, samples: Float32Array, query = ''): Promise<any> {
  const answer = await post(`${svc.url}/raw${query}`, encodeNpy(samples));
  expect(answer.status, JSON.stringify(answer.json)).to.equal(200);
  return answer.json;
}

/** 20 ms frames of int16 at 16 kHz, as Pipecat's transports deliver them. */
const FRAME = [640];

/**
 * `x` followed by 20 ms of silence at 48 kHz. A stream's resampler holds the last few milliseconds
 * until the audio after them arrives, so the turn lacks them; ending in silence, what it lacks weighs
 * next to nothing with a model that reads every value, as the fixtures do.
 */
function endingInSilence(x: Float32Array): Float32Array {
  const padded = new Float32Array(x.length + 960);
  padded.set(x);
  return padded;
}

async function expectError(stream: TestStream, code: string, message: RegExp, id?: unknown): Promise<void> {
  const m = await stream.next();
  expect(m, JSON.stringify(m)).to.include({ type: 'error', code });
  expect(m.message).to.match(message);
  if (id === undefined) expect(m).not.to.have.property('id');
  else expect(m.id).to.deep.equal(id);
}

describe('stream/session', function () {
  this.timeout(30_000);
  let svc: TestService;
  let stream: TestStream | undefined;
  afterEach(async () => {
    stream?.ws.terminate();
    stream = undefined;
    await svc?.stop();
  });

  describe('bad messages: an error message, and the stream goes on', () => {
    const audio = asInt16(noise(8000, 0.2, 1));
    beforeEach(async () => {
      svc = await startTestService({ STREAM_MAX_MESSAGE_BYTES: '4096' });
      stream = await openStream(svc.url);
    });
    afterEach(async () => {
      // Whatever went before, the stream still answers, with the audio it accepted.
      await sendChunked(stream!, int16Bytes(audio), FRAME);
      await stream!.predict('after');
      const m = await stream!.next();
      expect(m, JSON.stringify(m)).to.include({ type: 'result', id: 'after' });
      expect(m.probability).to.be.closeTo((await raw(svc, audio)).probability, 1e-6);
    });

    it('a predict before any audio', async () => {
      await stream!.predict(1);
      await expectError(stream!, 'BAD_MESSAGE', /no audio in this turn yet/, 1);
    });
    it('text that is not JSON', async () => {
      await stream!.send('predict please');
      await expectError(stream!, 'BAD_MESSAGE', /text messages are JSON.*"predict please"/);
    });
    it('JSON that is not an object with a type', async () => {
      for (const text of ['[1]', '"predict"', 'null', '{"id": 1}']) {
        await stream!.send(text);
        await expectError(stream!, 'BAD_MESSAGE', /JSON object with a "type"/);
      }
    });
    it('an unknown message type', async () => {
      await stream!.send(JSON.stringify({ type: 'flush' }));
      await expectError(stream!, 'BAD_MESSAGE', /unknown message type "flush"/);
    });
    it('a predict without an id, or with one that is not a string or a number', async () => {
      await stream!.send(JSON.stringify({ type: 'predict' }));
      await expectError(stream!, 'BAD_MESSAGE', /needs an "id"/);
      for (const id of ['', { a: 1 }, 'x'.repeat(129), true]) {
        await stream!.predict(id);
        await expectError(stream!, 'BAD_MESSAGE', /string of 1 to 128 characters or a number/);
      }
    });
    it('an audio message that ends mid-sample, which is dropped', async () => {
      await stream!.send(Buffer.alloc(641, 0x7f));
      await expectError(stream!, 'BAD_AUDIO', /641 bytes is not whole int16 samples/);
    });
  });

  describe('bad messages that close the stream, with a code and a reason', () => {
    beforeEach(async () => {
      svc = await startTestService({ STREAM_MAX_MESSAGE_BYTES: '8192' });
      stream = await openStream(svc.url);
    });
    afterEach(async () => {
      const next = await openStream(svc.url);
      await next.send(int16Bytes(noise(1000, 0.2, 2)));
      await next.predict(1);
      expect(await next.next()).to.include({ type: 'result', id: 1 });
      next.ws.terminate();
    });

    it(`a text message over ${MAX_TEXT_BYTES} bytes: 1009`, async () => {
      await stream!.send(JSON.stringify({ type: 'predict', id: 'x'.repeat(MAX_TEXT_BYTES) }));
      expect(await stream!.closed).to.deep.equal({ code: 1009, reason: `text messages are at most ${MAX_TEXT_BYTES} bytes` });
    });
    it('a binary message over STREAM_MAX_MESSAGE_BYTES: 1009', async () => {
      await stream!.send(Buffer.alloc(8194)).catch(() => undefined); // the server may close before it is all written
      expect(await stream!.closed).to.deep.equal({ code: 1009, reason: 'messages are at most 8192 bytes (STREAM_MAX_MESSAGE_BYTES)' });
    });
    it('text that is not UTF-8: 1007', async () => {
      stream!.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
      expect(await stream!.closed).to.deep.equal({ code: 1007, reason: 'text messages must be valid UTF-8' });
    });
  });

  describe('float32 streams', () => {
    beforeEach(async () => {
      svc = await startTestService();
      stream = await openStream(svc.url, 'sample_rate=16000&sample_type=float32');
    });

    it('refuse NaN and Inf samples, dropping that message', async () => {
      const good = noise(4000, 0.2, 3);
      await stream!.send(float32Bytes(good));
      await stream!.send(float32Bytes(Float32Array.of(0, Number.POSITIVE_INFINITY)));
      await expectError(stream!, 'BAD_AUDIO', /sample 1 of this message is Infinity/);
      await stream!.predict(7);
      expect((await stream!.next()).probability).to.be.closeTo((await raw(svc, good)).probability, 1e-6);
    });

    it('answer what /raw answers for the same float32 audio, in any chunking', async () => {
      const x = noise(40_000, 0.2, 4);
      await sendChunked(stream!, float32Bytes(x), [4, 1280, 4000, 12]);
      await stream!.predict(1);
      expect((await stream!.next()).probability).to.be.closeTo((await raw(svc, x)).probability, 1e-6);
    });
  });

  describe('answers', () => {
    it("carry /raw's fields and values for the same audio", async () => {
      svc = await startTestService({ THRESHOLD: '0.1' });
      stream = await openStream(svc.url);
      const x = asInt16(noise(3 * 16_000, 0.2, 5));
      await sendChunked(stream, int16Bytes(x), FRAME);
      const t0 = performance.now();
      await stream.predict('turn-1');
      const m = await stream.next();
      const elapsed = (performance.now() - t0) / 1000;
      expect(Object.keys(m).sort()).to.deep.equal(['id', 'metrics', 'prediction', 'probability', 'type']);
      expect(Object.keys(m.metrics).sort()).to.deep.equal(['inference_time', 'total_time']);
      const expected = await raw(svc, x);
      expect(m.probability).to.be.closeTo(expected.probability, 1e-6);
      expect(m.prediction).to.equal(expected.prediction).and.to.equal(m.probability > 0.1 ? 1 : 0);
      expect(m.metrics.inference_time).to.be.above(0).and.at.most(m.metrics.total_time);
      expect(m.metrics.total_time).to.be.at.most(elapsed);
    });

    it('keep the end of a turn longer than the window, as /raw does', async () => {
      svc = await startTestService();
      stream = await openStream(svc.url);
      const x = asInt16(noise(18 * 16_000, 0.2, 6));
      await sendChunked(stream, int16Bytes(x), [32_000]);
      await stream.predict(1);
      expect((await stream.next()).probability).to.be.closeTo((await raw(svc, x)).probability, 1e-6);
    });

    it('start a new turn after a reset', async () => {
      svc = await startTestService();
      stream = await openStream(svc.url);
      const before = asInt16(noise(2 * 16_000, 0.2, 7));
      const after = asInt16(noise(16_000, 0.2, 8));
      await sendChunked(stream, int16Bytes(before), FRAME);
      await stream.send(JSON.stringify({ type: 'reset' }));
      await sendChunked(stream, int16Bytes(after), FRAME);
      await stream.predict(1);
      const m = await stream.next();
      expect(m.probability).to.be.closeTo((await raw(svc, after)).probability, 1e-6);
      const joined = new Float32Array(before.length + after.length);
      joined.set(before);
      joined.set(after, before.length);
      expect(Math.abs(m.probability - (await raw(svc, joined)).probability)).to.be.above(1e-3);
    });

    it('resample audio at another rate as it arrives: within 1e-3 of /raw with sample_rate', async () => {
      svc = await startTestService();
      stream = await openStream(svc.url, 'sample_rate=48000&sample_type=int16');
      const x = endingInSilence(asInt16(noise(4 * 48_000, 0.2, 9)));
      await sendChunked(stream, int16Bytes(x), [1920, 962, 6]);
      await stream.predict(1);
      // Only the last few milliseconds of the silence, still in the resampler's filter, are missing from the stream's turn.
      expect((await stream.next()).probability).to.be.closeTo((await raw(svc, x, '?sample_rate=48000')).probability, 1e-3);
    });

    it('come in the order they were asked, refusals included', async () => {
      const backend = new GatedBackend(await OnnxBackend.open({ modelPath: READOUT_V2 }));
      svc = await startTestService({ MICRO_BATCH_WINDOW_MS: '0' }, backend);
      stream = await openStream(svc.url);
      backend.hold();
      const lengths = [16_000, 24_000, 32_000];
      const x = asInt16(noise(32_000, 0.2, 10));
      await stream.send(int16Bytes(x.subarray(0, 16_000)));
      await stream.predict('a');
      await stream.send(int16Bytes(x.subarray(16_000, 24_000)));
      await stream.predict('b');
      await stream.predict('a'); // 'a' is still waiting: refused at once, but answered after 'b'
      await stream.send(int16Bytes(x.subarray(24_000)));
      await stream.predict(3);
      backend.release();
      const answers = [await stream.next(), await stream.next(), await stream.next(), await stream.next()];
      expect(answers.map((m) => [m.type, m.id])).to.deep.equal([['result', 'a'], ['result', 'b'], ['error', 'a'], ['result', 3]]);
      expect(answers[2].message).to.match(/id "a" is already waiting/);
      const expected = await Promise.all(lengths.map((n) => raw(svc, x.subarray(0, n))));
      [answers[0], answers[1], answers[3]].forEach((m, i) => expect(m.probability).to.be.closeTo(expected[i].probability, 1e-6));
    });

    it('are not computed for a stream that has gone', async () => {
      const backend = new GatedBackend(await OnnxBackend.open({ modelPath: READOUT_V2 }), 1);
      // A long deadline: only the stream's departure can take its request out of the queue.
      svc = await startTestService({ MICRO_BATCH_WINDOW_MS: '0', BATCH_BUCKETS: '1', REQUEST_TIMEOUT_MS: '60000' }, backend);
      const other = await openStream(svc.url);
      stream = await openStream(svc.url);
      backend.hold();
      await other.send(int16Bytes(noise(1600, 0.2, 11)));
      await other.predict(1); // runs first, held at the gate
      await stream.send(int16Bytes(noise(1600, 0.2, 12)));
      await stream.predict(2); // queued behind it
      while (svc.batcher.queueDepth < 1) await new Promise((r) => setTimeout(r, 5));
      const rowsBefore = backend.rowsComputed;
      stream.ws.terminate();
      await stream.closed;
      while (svc.batcher.queueDepth > 0) await new Promise((r) => setTimeout(r, 5));
      backend.release();
      expect(await other.next()).to.include({ type: 'result', id: 1 });
      other.ws.terminate();
      expect(backend.rowsComputed - rowsBefore).to.equal(1);
    });
  });

  describe('limits', () => {
    it('reads a client that sends faster than real time no faster than STREAM_MAX_LEAD_MS allows, and drops nothing', async () => {
      svc = await startTestService({ STREAM_MAX_LEAD_MS: '200' });
      stream = await openStream(svc.url, 'sample_rate=48000&sample_type=float32');
      const seconds = 2;
      const x = endingInSilence(noise(seconds * 48_000, 0.2, 13));
      const t0 = performance.now();
      await sendChunked(stream, float32Bytes(x), [3840]);
      await stream.predict(1);
      const m = await stream.next(30_000);
      const elapsed = (performance.now() - t0) / 1000;
      // Real time for all but the lead, less what one socket read (64 KiB, 1/3 s here) can carry at once.
      expect(elapsed).to.be.at.least(seconds - 0.2 - 65_536 / (48_000 * 4));
      expect(m.probability).to.be.closeTo((await raw(svc, x, '?sample_rate=48000')).probability, 1e-3);
    });

    it('closes a stream idle for STREAM_IDLE_TIMEOUT_MS (1008), not one that pings', async () => {
      svc = await startTestService({ STREAM_IDLE_TIMEOUT_MS: '300' });
      const t0 = performance.now();
      stream = await openStream(svc.url);
      const pinged = await openStream(svc.url);
      const pinging = setInterval(() => pinged.ws.ping(), 100);
      try {
        const closed = await stream.closed;
        expect(performance.now() - t0).to.be.at.least(300);
        expect(closed).to.deep.equal({ code: 1008, reason: 'no message for 300 ms (STREAM_IDLE_TIMEOUT_MS)' });
        // Pinging every 100 ms, the other stream outlives a few timeouts, then is closed once it stops.
        await new Promise((r) => setTimeout(r, 1000));
      } finally {
        clearInterval(pinging);
      }
      expect(pinged.ws.readyState).to.equal(pinged.ws.OPEN);
      expect((await pinged.closed).code).to.equal(1008);
    });
  });
});
