// tools/warmup.ts, tools/bench.ts, tools/client.ts run as a user runs them (child processes) against a
// real server on the fixture model; tools/lib pieces checked against NumPy and Prometheus text.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import wavefile from 'wavefile';
import { encodeNpy } from '../tools/lib/npy.js';
import { diff, parseBatchMetrics, sizeRanges } from '../tools/lib/prom.js';
import { target } from '../tools/lib/target.js';
import { DEFAULT_SAMPLE } from '../tools/lib/cli.js';
import { fitToSeconds, readWav, tone } from '../tools/lib/wav.js';
import { expectedV2, TOLERANCE } from './helpers/fixtures.js';
import { python, saveFloat32 } from './helpers/numpy.js';
import { post, startTestService, type TestService } from './helpers/service.js';
import { deadPort, runTool, silentServer } from './helpers/tools.js';

/** What the fixture answers for the shipped sample fitted to `seconds`, as the tools send it. */
const sampleAnswer = (seconds: number): number => expectedV2(fitToSeconds(readWav(DEFAULT_SAMPLE).samples, seconds));

describe('tools', function () {
  this.timeout(30_000);
  let svc: TestService;
  let dir: string;
  const port = (): string => String(svc.port);

  before(async () => {
    // Buckets set: bench reports batches, and the CPU plan batches one clip at a time on a small machine.
    svc = await startTestService({ AUTH_KEY: 'dev', BATCH_BUCKETS: '1,2,4,8' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'smart-turn-tools-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await svc?.stop();
  });

  describe('lib', () => {
    it('encodeNpy writes the bytes np.save writes, float32 or int16', () => {
      const values = Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i) * 0.5);
      expect(encodeNpy(values).equals(saveFloat32(values))).to.equal(true);
      const pcm = python('out = save(np.clip(np.round(np.frombuffer(sys.stdin.buffer.read(), "<f4") * 32768), -32768, 32767).astype("<i2"))', Buffer.from(values.buffer));
      expect(encodeNpy(values, '<i2').equals(pcm)).to.equal(true);
      expect(python('out = str(np.load(io.BytesIO(sys.stdin.buffer.read())).shape).encode()', encodeNpy(values)).toString()).to.equal('(1001,)');
    });

    it('target() accepts a host:port, a base URL or the /raw URL', () => {
      expect(target('10.0.0.5:8000', undefined).raw).to.equal('http://10.0.0.5:8000/raw');
      expect(target('https://x.example/turn/raw/', 'k')).to.deep.equal({ raw: 'https://x.example/turn/raw', base: 'https://x.example/turn', authKey: 'k' });
      expect(() => target('http://', undefined)).to.throw(/not a URL/);
    });

    it('reads the batch histogram and bucket counters, and the change between two scrapes', () => {
      const before = parseBatchMetrics('smart_turn_batch_size_bucket{le="1"} 2\nsmart_turn_batch_size_bucket{le="2"} 2\nsmart_turn_batch_size_bucket{le="4"} 2\nsmart_turn_batch_size_sum 2\nsmart_turn_batch_size_count 2\nsmart_turn_batches_total{bucket="1"} 2\n');
      const after = parseBatchMetrics(
        '# HELP x\nsmart_turn_batch_size_bucket{le="1"} 3\nsmart_turn_batch_size_bucket{le="2"} 4\nsmart_turn_batch_size_bucket{le="4"} 7\nsmart_turn_batch_size_bucket{le="+Inf"} 8\nsmart_turn_batch_size_sum 27\nsmart_turn_batch_size_count 8\nsmart_turn_batches_total{bucket="1"} 3\nsmart_turn_batches_total{bucket="8"} 1\n',
      );
      const run = diff(after, before);
      expect([run.batches, run.requests]).to.deep.equal([6, 25]);
      expect(sizeRanges(run)).to.deep.equal([['1', 1], ['2', 1], ['3-4', 3], ['>4', 1]]);
      expect([...run.byBucket]).to.deep.equal([[1, 1], [8, 1]]);
    });
  });

  describe('warmup', () => {
    it('sends the shipped sample padded to --seconds and prints the JSON answer', async () => {
      const r = await runTool('warmup', ['--seconds', '8'], { env: { PORT: port(), AUTH_KEY: 'dev' } });
      expect(r.code, r.stderr).to.equal(0);
      const answer = JSON.parse(r.stdout);
      expect(answer.probability).to.be.closeTo(sampleAnswer(8), TOLERANCE);
      expect(r.stderr).to.match(/samples\/mid\.wav \(16-bit 1 ch 16000 Hz/);
    });

    it('sends a tone with --tone, to SMART_TURN_URL', async () => {
      const r = await runTool('warmup', ['--tone', '--seconds', '12'], { env: { SMART_TURN_URL: `${svc.url}/raw`, AUTH_KEY: 'dev' } });
      expect(r.code, r.stderr).to.equal(0);
      expect(JSON.parse(r.stdout).probability).to.be.closeTo(expectedV2(tone(12)), TOLERANCE);
    });

    it('explains a 401 and exits 1', async () => {
      const r = await runTool('warmup', ['--tone'], { env: { PORT: port() } });
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/401 .*set AUTH_KEY to the server's AUTH_KEY/);
    });

    it('refuses a bad option with exit code 2', async () => {
      const r = await runTool('warmup', ['--seconds', 'lots'], { env: { PORT: port() } });
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/--seconds must be a number/);
    });
  });

  describe('bench', () => {
    it('completes the requested count at the requested concurrency, reporting latency, batches, JSON and a chart', async () => {
      const json = path.join(dir, 'bench.json');
      const svg = path.join(dir, 'out', 'bench.svg');
      const r = await runTool('bench', ['--seconds', '4', '--requests', '48', '--concurrency', '12', '--json', json, '--plot', svg], { env: { PORT: port(), AUTH_KEY: 'dev' } });
      expect(r.code, r.stderr + r.stdout).to.equal(0);
      expect(r.stdout).to.match(/48\/48 ok/);
      expect(r.stdout).to.match(/latency ms +p50 [\d.]+ +p90 [\d.]+ +p99 [\d.]+ +max [\d.]+/);
      const report = JSON.parse(readFileSync(json, 'utf8'));
      expect([report.requests, report.concurrency, report.ok]).to.deep.equal([48, 12, 48]);
      expect(report.errors).to.deep.equal({});
      const { p50, p90, p99, max } = report.latency_ms;
      expect(p50).to.be.above(0).and.at.most(p90);
      expect(p99).to.be.at.least(p90).and.at.most(max);
      expect(report.server_inference_ms.p50).to.be.above(0);
      // The server's own count of what it batched during the run: all 48, in fewer than 48 batches.
      expect(report.batches.requests).to.equal(48);
      expect(report.batches.count).to.be.within(1, 47);
      expect(Object.values(report.batches.by_size as Record<string, number>).reduce((a, b) => a + b, 0)).to.equal(report.batches.count);
      const chart = readFileSync(svg, 'utf8');
      expect(chart).to.match(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      expect(chart.match(/<rect /g)?.length).to.be.above(3);
      python('import xml.dom.minidom as m; m.parseString(sys.stdin.buffer.read()); out = b""', Buffer.from(chart));
    });

    it('counts errors by status and exits 1', async () => {
      const r = await runTool('bench', ['--tone', '--seconds', '1', '--requests', '6', '--concurrency', '3'], { env: { PORT: port(), AUTH_KEY: 'wrong' } });
      expect(r.code).to.equal(1);
      expect(r.stdout).to.match(/0\/6 ok/);
      expect(r.stdout).to.match(/errors +401: 6 \(e\.g\. UNAUTHORIZED/);
    });
  });

  describe('client', () => {
    const envFile = (name: string, text: string): string => {
      const folder = mkdtempSync(path.join(dir, `${name}-`));
      writeFileSync(path.join(folder, '.env'), text);
      return folder;
    };

    it('reads RUNPOD_TCP_HOST, RUNPOD_TCP_PORT and AUTH_KEY from .env in the current folder', async () => {
      const cwd = envFile('runpod', `# pod\nRUNPOD_TCP_HOST=127.0.0.1\nRUNPOD_TCP_PORT=${port()}\nAUTH_KEY="dev"\n`);
      const r = await runTool('client', ['--seconds', '8'], { cwd });
      expect(r.code, r.stderr).to.equal(0);
      expect(JSON.parse(r.stdout).probability).to.be.closeTo(sampleAnswer(8), TOLERANCE);
      expect(r.stderr).to.match(/RUNPOD_TCP_HOST\/PORT from \.env; AUTH_KEY from \.env/);
    });

    it('prefers SMART_TURN_URL, and takes --env-file', async () => {
      const folder = envFile('url', `SMART_TURN_URL=${svc.url}\nRUNPOD_TCP_HOST=192.0.2.1\nAUTH_KEY=dev\n`);
      const r = await runTool('client', ['--tone', '--env-file', path.join(folder, '.env')], { cwd: dir });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.include(`POST ${svc.url}/raw (SMART_TURN_URL from`);
    });

    it('--native-rate --int16: a 48 kHz WAV goes as it is, declared, and gets the answer of the clip resampled here', async function () {
      this.timeout(60_000); // three requests, two of them through the tool's own process
      // 5 s of two tones faded in and out, written as a 48 kHz 16-bit WAV.
      const rate = 48_000;
      const tones = Float64Array.from({ length: 5 * rate }, (_, i) => {
        const t = i / rate;
        return (0.2 * Math.sin(2 * Math.PI * 220 * t) + 0.1 * Math.sin(2 * Math.PI * 1370 * t)) * Math.min(1, t / 0.05, (5 - t) / 0.05);
      });
      const wav = new wavefile.WaveFile();
      wav.fromScratch(1, rate, '16', Int16Array.from(tones, (x) => Math.round(x * 32767)));
      const file = path.join(dir, 'tones-48k.wav');
      writeFileSync(file, wav.toBuffer());
      const cwd = envFile('rates', `SMART_TURN_URL=${svc.url}\nAUTH_KEY=dev\n`);

      const here = await runTool('client', ['--sample', file, '--seconds', '8'], { cwd });
      expect(here.code, here.stderr).to.equal(0);
      expect(here.stderr).to.include('as 8 s at 16000 Hz float32 mono');
      const native = await runTool('client', ['--sample', file, '--seconds', '8', '--native-rate', '--int16'], { cwd });
      expect(native.code, native.stderr).to.equal(0);
      expect(native.stderr).to.include('tones-48k.wav (16-bit 1 ch 48000 Hz, 5.00 s) as 8 s at 48000 Hz int16 mono');
      // The same resampler either side (ts/resample.ts); the int16 steps (3e-5) and where the padding
      // meets the tones are all that differ.
      const [p16, p48] = [JSON.parse(here.stdout).probability, JSON.parse(native.stdout).probability];
      expect(Math.abs(p16 - p48)).to.be.below(1e-3);
      // The same bytes, undeclared, are heard at a third of their speed: the comparison can fail.
      const samples = Float32Array.from(tones, (x) => Math.round(x * 32767) / 32768);
      const undeclared = await post(`${svc.url}/raw`, encodeNpy(fitToSeconds(samples, 8, rate), '<i2'), { authorization: 'Key dev' });
      expect(Math.abs(undeclared.json.probability - p48)).to.be.above(0.05);
    });

    it('a wrong key: 401, naming where the key came from', async () => {
      const cwd = envFile('badkey', `RUNPOD_TCP_HOST=127.0.0.1\nRUNPOD_TCP_PORT=${port()}\nAUTH_KEY=dev\n`);
      const r = await runTool('client', ['--tone'], { cwd, env: { AUTH_KEY: 'stale' } });
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/401 .*The key sent \(from AUTH_KEY in environment\) is not the server's AUTH_KEY/);
    });

    it('an unreachable host', async () => {
      const cwd = envFile('dead', `RUNPOD_TCP_HOST=127.0.0.1\nRUNPOD_TCP_PORT=${await deadPort()}\n`);
      const r = await runTool('client', ['--tone'], { cwd });
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/cannot reach http:\/\/127\.0\.0\.1:\d+\/raw \(ECONNREFUSED/);
    });

    it('a server that never answers: a timeout', async () => {
      const silent = await silentServer();
      try {
        const cwd = envFile('silent', `SMART_TURN_URL=${silent.url}\n`);
        // Only the timeout ends this run (the server never answers): the message says which one it was.
        const r = await runTool('client', ['--tone', '--timeout', '0.5'], { cwd });
        expect(r.code).to.equal(1);
        expect(r.stderr).to.match(/gave no answer within the timeout \(no answer within 0\.5 s\)/);
      } finally {
        await silent.close();
      }
    });

    it('--stream: streams the clip to GET /stream and prints the same answer as a POST', async () => {
      const cwd = envFile('stream', `RUNPOD_TCP_HOST=127.0.0.1\nRUNPOD_TCP_PORT=${port()}\nAUTH_KEY=dev\n`);
      const [streamed, posted] = await Promise.all([runTool('client', ['--seconds', '8', '--stream'], { cwd }), runTool('client', ['--seconds', '8'], { cwd })]);
      expect(streamed.code, streamed.stderr).to.equal(0);
      expect(streamed.stderr).to.include(`GET ws://127.0.0.1:${port()}/stream?sample_rate=16000&sample_type=int16`);
      expect(streamed.stderr).to.match(/from the predict \(the 400 frames took \d+ ms to send\)/);
      expect(JSON.parse(streamed.stdout).probability).to.be.closeTo(JSON.parse(posted.stdout).probability, 1e-6);
    });

    it('--stream with a wrong key: 401, refused before the upgrade, naming where the key came from', async () => {
      const cwd = envFile('streamkey', `RUNPOD_TCP_HOST=127.0.0.1\nRUNPOD_TCP_PORT=${port()}\nAUTH_KEY=stale\n`);
      const r = await runTool('client', ['--tone', '--stream'], { cwd });
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/401 from ws:.*\/stream.*UNAUTHORIZED.*The key sent \(from AUTH_KEY in \.env\) is not the server's AUTH_KEY/);
    });

    it('no .env: says what to write', async () => {
      const r = await runTool('client', [], { cwd: mkdtempSync(path.join(dir, 'empty-')) });
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/no \.env found.*\n *RUNPOD_TCP_HOST=localhost/);
    });
  });
});
