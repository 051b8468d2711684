import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { expect } from 'chai';
import { OnnxBackend } from '../ts/backends/onnx.js';
import { lastWindow } from '../ts/audio.js';
import { LINGER } from '../ts/http/body.js';
import { N_SAMPLES, whisperLogMel } from '../ts/features/mel.js';
import { checkSampleRate, Resampler } from '../ts/resample.js';
import { GatedBackend } from './helpers/backends.js';
import { encodeNpy } from '../tools/lib/npy.js';
import { expectedV2, RAMP, READOUT_V2, READOUT_V3, readoutV3, TOLERANCE } from './helpers/fixtures.js';
import { PYTHON, saveFloat32 } from './helpers/numpy.js';
import { noise } from './reference/run.js';
import { fixture, post, startTestService, type TestService } from './helpers/service.js';

const run = promisify(execFile);
const resampler = await Resampler.create();
const resampleTo16k = (clip: Float32Array, rate: number): Float32Array => resampler.to16k(clip, checkSampleRate(rate));
const f4 = readFileSync(fixture('npy/f4.npy'));
const tone = (n: number, phase = 0): Float32Array => Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin(0.05 * i + phase));
/** What the fixture answers for f4.npy (and every other .npy fixture's clip). */
const RAMP_ANSWER = expectedV2(RAMP);

/** Sends a body with Transfer-Encoding: chunked (no Content-Length), as a streaming client would. */
function postChunked(url: string, chunks: Buffer[]): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/raw`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    });
    req.on('error', (error) => ((error as NodeJS.ErrnoException).code === 'EPIPE' || (error as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(error)));
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

/** Resolves once `socket` drains or closes. */
function writable(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done).off('close', done);
      resolve();
    };
    socket.on('drain', done).on('close', done);
  });
}

/** An unlabelled metric's value from /metrics (0 when absent). */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('server', function () {
  let svc: TestService;
  afterEach(async () => svc?.stop());

  describe('bad requests get a JSON error, and the server goes on serving', () => {
    beforeEach(async () => {
      svc = await startTestService({ MAX_BODY_BYTES: '65536' });
    });

    const cases: Array<[string, () => Promise<{ status: number; json: any }>, number, string, RegExp]> = [
      ['a body that is not .npy', () => post(`${svc.url}/raw`, 'hello'), 400, 'BAD_NPY', /\\x93NUMPY/],
      ['stereo audio', () => post(`${svc.url}/raw`, readFileSync(fixture('npy/stereo.npy'))), 400, 'BAD_NPY', /channels/],
      ['NaN samples', () => post(`${svc.url}/raw`, readFileSync(fixture('npy/nan.npy'))), 400, 'BAD_NPY', /NaN/],
      ['a pickled object array', () => post(`${svc.url}/raw`, readFileSync(fixture('npy/object.npy'))), 400, 'BAD_NPY', /object arrays/],
      ['a wrong Content-Type', () => post(`${svc.url}/raw`, f4, { 'content-type': 'audio/wav' }), 415, 'UNSUPPORTED_MEDIA_TYPE', /application\/octet-stream/],
      ['no Content-Type', () => post(`${svc.url}/raw`, f4, { 'content-type': '' }), 415, 'UNSUPPORTED_MEDIA_TYPE', /got none/],
      ['a body over MAX_BODY_BYTES', () => post(`${svc.url}/raw`, Buffer.alloc(70_000)), 413, 'BODY_TOO_LARGE', /^body is 70000 bytes; MAX_BODY_BYTES allows 65536 \(about 1 s of float32 audio\)$/],
      ['a chunked body over MAX_BODY_BYTES', () => postChunked(svc.url, Array.from({ length: 10 }, () => Buffer.alloc(10_000))), 413, 'BODY_TOO_LARGE', /^body is more; MAX_BODY_BYTES allows 65536/],
      ['a body of exactly MAX_BODY_BYTES (not .npy)', () => post(`${svc.url}/raw`, Buffer.alloc(65_536)), 400, 'BAD_NPY', /\\x93NUMPY/],
      ['an unknown route', () => post(`${svc.url}/predict`, f4), 404, 'NOT_FOUND', /POST \/raw/],
      ['GET on /raw', async () => {
        const r = await fetch(`${svc.url}/raw`);
        return { status: r.status, json: await r.json() };
      }, 405, 'METHOD_NOT_ALLOWED', /allowed: POST/],
    ];
    for (const [name, send, status, code, message] of cases) {
      it(name, async () => {
        const answer = await send();
        expect(answer.status).to.equal(status);
        expect(answer.json.error.code).to.equal(code);
        expect(answer.json.error.message).to.match(message);
        const next = await post(`${svc.url}/raw`, f4);
        expect(next.status).to.equal(200);
      });
    }

    it('a chunked body under the limit is served', async () => {
      const answer = await postChunked(svc.url, [f4.subarray(0, 100), f4.subarray(100)]);
      expect(answer.status).to.equal(200);
      expect(answer.json.probability).to.be.closeTo(RAMP_ANSWER, TOLERANCE);
    });
  });

  describe('oversized bodies: the 413 reaches clients that write everything before reading', () => {
    beforeEach(async () => {
      svc = await startTestService({ MAX_BODY_BYTES: '65536' });
    });

    it('Python urllib, posting 20 MB, reads the 413 JSON instead of a reset', async () => {
      const script = [
        'import json, sys, urllib.request, urllib.error',
        'req = urllib.request.Request(sys.argv[1], data=bytes(20 << 20), headers={"Content-Type": "application/octet-stream"})',
        'try:',
        '    urllib.request.urlopen(req)',
        'except urllib.error.HTTPError as e:',
        '    print(json.dumps({"status": e.code, "body": json.loads(e.read())}))',
      ].join('\n');
      const { stdout } = await run(PYTHON, ['-c', script, `${svc.url}/raw`]);
      const answer = JSON.parse(stdout);
      expect(answer.status).to.equal(413);
      expect(answer.body.error.code).to.equal('BODY_TOO_LARGE');
      expect(answer.body.error.message).to.match(/body is 20971520 bytes; MAX_BODY_BYTES allows 65536/);
      expect((await post(`${svc.url}/raw`, f4)).status).to.equal(200);
    });

    it('discards at most LINGER.bytes of a refused body, then closes', async () => {
      const declared = LINGER.bytes + (64 << 20);
      const socket = net.connect(svc.port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      let received = '';
      socket.on('data', (d) => (received += d));
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.on('error', () => undefined);
      socket.write(`POST /raw HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`);
      const chunk = Buffer.alloc(1 << 20);
      let written = 0;
      while (written < declared && !socket.destroyed) {
        if (!socket.write(chunk)) await writable(socket);
        written += chunk.length;
      }
      await closed;
      expect(received).to.match(/^HTTP\/1\.1 413 /);
      expect(received).to.include('"code":"BODY_TOO_LARGE"');
      // The server stopped reading past the bound: what the client got into the kernel's buffers is far short of the body.
      expect(written).to.be.below(declared);
      expect(written).to.be.at.least(LINGER.bytes);
    });
  });

  describe('auth', () => {
    beforeEach(async () => {
      svc = await startTestService({ AUTH_KEY: 's3cret-key' });
    });

    it('refuses /raw without a key, naming the header', async () => {
      const answer = await post(`${svc.url}/raw`, f4);
      expect(answer.status).to.equal(401);
      expect(answer.json.error.message).to.match(/Authorization: Key <AUTH_KEY>/);
    });

    it('refuses a wrong key without echoing either key', async () => {
      const answer = await post(`${svc.url}/raw`, f4, { authorization: 'Key s3cret-kex' });
      expect(answer.status).to.equal(401);
      expect(answer.json.error.message).to.equal('the key in the Authorization header does not match AUTH_KEY');
      expect(JSON.stringify(answer.json)).not.to.include('s3cret');
    });

    it('refuses the right key behind another scheme or word', async () => {
      for (const authorization of ['XKey s3cret-key', 'Basic s3cret-key', 's3cret-key']) {
        expect((await post(`${svc.url}/raw`, f4, { authorization })).status, authorization).to.equal(401);
      }
    });

    it('serves the right key, as Pipecat sends it, or as a Bearer token, with any spacing', async () => {
      for (const authorization of ['Key s3cret-key', 'key  s3cret-key', 'Bearer s3cret-key']) {
        expect((await post(`${svc.url}/raw`, f4, { authorization })).status, authorization).to.equal(200);
      }
    });

    it('never asks /health for a key', async () => {
      const response = await fetch(`${svc.url}/health`);
      expect(response.status).to.equal(200);
      expect(await response.text()).to.equal('{"ok":true}');
    });
  });

  describe('wire format', () => {
    beforeEach(async () => {
      // Buckets set: the CPU plan derives them from the cores, and on a small machine batches one clip at a time.
      svc = await startTestService({ THRESHOLD: '0.5', BATCH_BUCKETS: '1,2,4,8' });
    });

    it('answers Pipecat’s fields, in seconds', async () => {
      const t0 = performance.now();
      const answer = await post(`${svc.url}/raw`, saveFloat32(tone(200_000)));
      const elapsed = (performance.now() - t0) / 1000;
      expect(answer.status).to.equal(200);
      expect(answer.headers.get('content-type')).to.match(/^application\/json/);
      expect(Object.keys(answer.json).sort()).to.deep.equal(['metrics', 'prediction', 'probability']);
      expect(Object.keys(answer.json.metrics).sort()).to.deep.equal(['inference_time', 'total_time']);
      expect(answer.json.probability).to.be.closeTo(expectedV2(tone(200_000)), TOLERANCE);
      expect(answer.json.prediction).to.equal(1);
      const { inference_time, total_time } = answer.json.metrics;
      expect(inference_time).to.be.greaterThan(0);
      expect(total_time).to.be.at.least(inference_time);
      expect(total_time).to.be.at.most(elapsed);
    });

    it('predicts 0 at or below THRESHOLD', async () => {
      const answer = await post(`${svc.url}/raw`, f4);
      expect(RAMP_ANSWER).to.be.at.most(0.5);
      expect(answer.json.probability).to.be.closeTo(RAMP_ANSWER, TOLERANCE);
      expect(answer.json.prediction).to.equal(0);
    });

    it('predicts 1 only above THRESHOLD: a probability equal to it is 0', async () => {
      const p = (await post(`${svc.url}/raw`, f4)).json.probability as number;
      await svc.stop();
      for (const [threshold, prediction] of [[p, 0], [p - 1e-6, 1]] as const) {
        svc = await startTestService({ THRESHOLD: String(threshold) });
        const answer = await post(`${svc.url}/raw`, f4);
        expect([answer.json.probability, answer.json.prediction], `THRESHOLD=${threshold}`).to.deep.equal([p, prediction]);
        await svc.stop();
      }
    });

    it('accepts application/x-npy and a charset parameter, in any case', async () => {
      expect((await post(`${svc.url}/raw`, f4, { 'content-type': 'application/x-npy' })).status).to.equal(200);
      expect((await post(`${svc.url}/raw`, f4, { 'content-type': 'application/octet-stream; charset=binary' })).status).to.equal(200);
      expect((await post(`${svc.url}/raw`, f4, { 'content-type': 'Application/Octet-Stream ; charset=binary' })).status).to.equal(200);
    });

    it('keeps the last 16 s of a longer clip', async () => {
      const clip = tone(300_000);
      const answer = await post(`${svc.url}/raw`, saveFloat32(clip));
      expect(answer.json.probability).to.be.closeTo(expectedV2(clip), TOLERANCE);
      expect(expectedV2(clip.subarray(0, 256_000)), 'the first 16 s would answer otherwise').not.to.be.closeTo(expectedV2(clip), 1e-3);
    });

    it('resamples audio whose client declares its rate', async () => {
      const clip = tone(3 * 48_000);
      const at48k = encodeNpy(clip);
      const expected = expectedV2(resampleTo16k(clip, 48_000));
      expect(expected, 'taken as 16 kHz it would answer otherwise').not.to.be.closeTo(expectedV2(clip), 1e-3);
      for (const [url, headers] of [[`${svc.url}/raw?sample_rate=48000`, {}], [`${svc.url}/raw`, { 'x-sample-rate': '48000' }]] as const) {
        const answer = await post(url, at48k, headers);
        expect(answer.status).to.equal(200);
        expect(answer.json.probability).to.be.closeTo(expected, TOLERANCE);
      }
      const bad = await post(`${svc.url}/raw?sample_rate=48k`, at48k);
      expect([bad.status, bad.json.error.code]).to.deep.equal([400, 'BAD_QUERY']);
      const low = await post(`${svc.url}/raw?sample_rate=4000`, at48k);
      expect(low.json.error.message).to.match(/from 8000 to 192000/);
    });

    it('keeps the last 16 s of a longer clip at another declared rate, resampling only what it keeps', async () => {
      const clip = noise(20 * 48_000, 0.2, 9);
      const answer = await post(`${svc.url}/raw?sample_rate=48000`, encodeNpy(clip));
      expect(answer.status).to.equal(200);
      // The whole clip resampled, then its last 16 s: the server's shortcut must give the same answer.
      const whole = resampleTo16k(clip, 48_000);
      expect(answer.json.probability).to.be.closeTo(expectedV2(whole), TOLERANCE);
      expect(expectedV2(whole.subarray(0, 256_000)), 'the first 16 s would answer otherwise').not.to.be.closeTo(expectedV2(whole), 1e-3);
    });

    it('honours and echoes X-Request-Id', async () => {
      const answer = await post(`${svc.url}/raw`, f4, { 'x-request-id': 'agent-42.turn-7' });
      expect(answer.headers.get('x-request-id')).to.equal('agent-42.turn-7');
      const fresh = await post(`${svc.url}/raw`, f4, { 'x-request-id': 'bad id with spaces' });
      expect(fresh.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
    });

    it('serves 200 concurrent clips, each its own answer, in batches larger than one', async () => {
      // Admission is admission.test.ts's: here a queue and deadline that take all 200 on a busy machine,
      // and buckets to batch in whatever the CPU plan would choose for this machine.
      await svc.stop();
      svc = await startTestService({ MAX_QUEUE: '1000', REQUEST_TIMEOUT_MS: '600000', BATCH_BUCKETS: '1,2,4,8' });
      // One length for all: only the values tell the clips apart, so cross-talk between rows shows.
      const clips = Array.from({ length: 200 }, (_, i) => noise(16_000, 0.2, i));
      const expected = clips.map((clip) => expectedV2(clip));
      const sorted = [...expected].sort((a, b) => a - b);
      const closest = Math.min(...sorted.slice(1).map((p, i) => p - sorted[i]!));
      expect(closest, 'the clips have distinguishable answers').to.be.above(2 * TOLERANCE);
      const answers = await Promise.all(clips.map((clip) => post(`${svc.url}/raw`, encodeNpy(clip))));
      answers.forEach((answer, i) => {
        expect(answer.status).to.equal(200);
        expect(answer.json.probability, `clip ${i}`).to.be.closeTo(expected[i]!, TOLERANCE);
      });
      const batches = await metric(svc.url, 'smart_turn_batch_size_count');
      const batched = await metric(svc.url, 'smart_turn_batch_size_sum');
      expect(batched).to.equal(200); // warm-up runs on the backend directly, not through the batcher
      expect(batches).to.be.lessThan(200);
    });
  });

  describe('smart-turn v3', () => {
    it('serves a v3 model with Whisper features', async () => {
      svc = await startTestService({ MODEL_PATH: READOUT_V3 });
      expect(svc.backend.family.id).to.equal('smart-turn-v3');
      const clips = [tone(16_000), tone(200_000, 1), tone(16_000, 2)];
      const answers = await Promise.all(clips.map((clip) => post(`${svc.url}/raw`, encodeNpy(clip))));
      answers.forEach((answer, i) => {
        // The features' own exactness is mel.test.ts's: here, that each clip reaches the model as its own.
        const features = whisperLogMel(lastWindow(clips[i]!, N_SAMPLES));
        expect(answer.json.probability, `clip ${i}`).to.be.closeTo(readoutV3(features), 1e-5);
      });
    });
  });

  describe('buckets', () => {
    it('runs a batch of 3 as the bucket of 4 when BATCH_BUCKETS=2,4,8', async () => {
      svc = await startTestService({ BATCH_BUCKETS: '2,4,8', MICRO_BATCH_WINDOW_MS: '200' });
      await Promise.all([4000, 5000, 6000].map((n) => post(`${svc.url}/raw`, encodeNpy(tone(n)))));
      const text = await (await fetch(`${svc.url}/metrics`)).text();
      expect(text).to.match(/^smart_turn_batches_total\{bucket="4"\} 1$/m);
      expect(text).not.to.match(/^smart_turn_batches_total\{bucket="(2|8)"\}/m);
    });
  });

  describe('connection limit', () => {
    it('MAX_CONNECTIONS from the environment: a connection past it is closed unanswered, and one is taken again once another closes', async () => {
      svc = await startTestService({ MAX_CONNECTIONS: '2' });
      /** Connects and sends GET /health; resolves with the socket once the first answer arrived, or with what came before close. */
      const health = (): Promise<{ socket: net.Socket; answered: string }> =>
        new Promise((resolve) => {
          const socket = net.connect(svc.port, '127.0.0.1', () => socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
          let text = '';
          socket.on('data', (d) => {
            text += d;
            if (text.includes('{"ok":true}')) resolve({ socket, answered: text });
          });
          socket.on('error', () => undefined);
          socket.on('close', () => resolve({ socket, answered: text }));
        });
      // Two kept-alive connections, each answered, so the server counts both.
      const held = [await health(), await health()];
      expect(held.map((h) => h.answered)).to.satisfy((a: string[]) => a.every((t) => t.startsWith('HTTP/1.1 200')));
      const third = await health();
      expect(third.answered, 'closed without an answer').to.equal('');
      held[0]!.socket.destroy();
      let again = await health();
      for (let tries = 0; again.answered === '' && tries < 100; tries++) again = await health(); // until the server has seen the close
      expect(again.answered).to.match(/^HTTP\/1\.1 200/);
      for (const h of [held[1]!, again]) h.socket.destroy();
    });
  });

  describe('backend failure', () => {
    it('answers that batch 500 JSON and keeps serving', async () => {
      const backend = new GatedBackend(await OnnxBackend.open({ modelPath: READOUT_V2 }));
      svc = await startTestService({}, backend);
      backend.failNext(1);
      const failed = await post(`${svc.url}/raw`, f4);
      expect(failed.status).to.equal(500);
      expect(failed.json.error.code).to.equal('BACKEND_FAILED');
      expect(JSON.stringify(failed.json)).not.to.include('injected');
      expect((await post(`${svc.url}/raw`, f4)).status).to.equal(200);
    });
  });

  describe('clients', () => {
    beforeEach(async () => {
      svc = await startTestService({ AUTH_KEY: 'dev' });
    });

    it('answers curl', async () => {
      // Asynchronously: the server runs in this process and must answer while curl waits.
      const { stdout: out } = await run('curl', ['-sS', '-X', 'POST', '-H', 'Content-Type: application/octet-stream', '-H', 'Authorization: Key dev', '--data-binary', `@${fixture('npy/f4.npy')}`, `${svc.url}/raw`]);
      expect(JSON.parse(out.toString()).probability).to.be.closeTo(RAMP_ANSWER, TOLERANCE);
    });

    it('answers an aiohttp client posting np.save bytes as Pipecat does', async () => {
      const script = `
import asyncio, io, json, sys
import aiohttp, numpy as np
async def main():
    audio = (0.1 * np.sin(np.arange(16000 * 8) / 7)).astype(np.float32)
    buf = io.BytesIO(); np.save(buf, audio)
    async with aiohttp.ClientSession() as s:
        async with s.post(sys.argv[1], data=buf.getvalue(),
                          headers={"Content-Type": "application/octet-stream", "Authorization": "Key dev"}) as r:
            print(json.dumps({"status": r.status, "body": await r.json()}))
asyncio.run(main())`;
      // Async spawn: the server runs in this process and must keep answering while Python waits.
      const { spawn } = await import('node:child_process');
      const child = spawn(PYTHON, ['-c', script, `${svc.url}/raw`]);
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const code = await new Promise((resolve) => child.on('close', resolve));
      expect(code).to.equal(0);
      const { status, body } = JSON.parse(out);
      expect(status).to.equal(200);
      const audio = Float32Array.from({ length: 16000 * 8 }, (_, i) => 0.1 * Math.sin(i / 7));
      expect(body.probability).to.be.closeTo(expectedV2(audio), TOLERANCE);
      expect(body.prediction).to.equal(expectedV2(audio) > 0.5 ? 1 : 0);
    });
  });

  describe('start-up', () => {
    it('stops with a message naming a bad variable, the Hub\'s too', () => {
      for (const [name, value, message] of [
        ['BATCH_BUCKETS', '16,x', /BATCH_BUCKETS: expected a whole number, got "x"/],
        ['HF_HUB_ETAG_TIMEOUT', 'ten', /HF_HUB_ETAG_TIMEOUT: expected a number, got "ten"/],
      ] as const) {
        const result = spawnSync(process.execPath, ['--import', 'tsx', 'ts/main.ts'], {
          env: { ...process.env, MODEL_PATH: READOUT_V2, [name]: value },
          encoding: 'utf8',
        });
        expect(result.status).to.equal(2);
        expect(result.stderr).to.match(message);
      }
    });
  });
});
