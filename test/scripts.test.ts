// scripts/*.sh as a person runs them: main.sh brings up a background server on a free loopback port
// with the fixture model, stop.sh takes it down leaving no process (SIGKILL when SIGTERM is not
// enough); --purge cleans a scratch copy; setup.sh decides what to install and build; make_sample.sh
// remakes the committed samples.
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { decodeWav } from '../tools/lib/wav.js';
import { READOUT_V2 } from './helpers/fixtures.js';
import { deadPort, ROOT, run } from './helpers/tools.js';

const script = (name: string): string => path.join(ROOT, 'scripts', name);

/** PIDs of live processes in session `sid` (start_bg.sh gives the server a session of its own). */
function sessionMembers(sid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        // Field 6 of /proc/PID/stat, counted after the parenthesised command name.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]) === sid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('scripts', function () {
  this.timeout(60_000);
  let runDir: string;
  let env: Record<string, string>;

  beforeEach(async () => {
    runDir = mkdtempSync(path.join(os.tmpdir(), 'smart-turn-run-'));
    env = { PORT: String(await deadPort()), HOST: '127.0.0.1', MODEL_PATH: READOUT_V2, SMART_TURN_RUN_DIR: runDir, WAIT_TIMEOUT_S: '40' };
  });
  afterEach(async () => {
    await run('bash', [script('stop.sh')], { env }); // never leave a server behind, even on failure
    rmSync(runDir, { recursive: true, force: true });
  });

  it('main.sh --no-warmup starts a healthy background server; start_bg.sh refuses a second; stop.sh leaves nothing', async () => {
    const up = await run('bash', [script('main.sh'), '--no-setup', '--no-warmup'], { env, timeoutMs: 50_000 });
    expect(up.code, up.stderr).to.equal(0);
    expect(up.stderr).to.match(/healthy and ready on http:\/\/127\.0\.0\.1:\d+/);
    expect(up.stderr).to.include(path.join(runDir, 'server.log'));
    const pid = Number(readFileSync(path.join(runDir, 'server.pid'), 'utf8'));
    expect(alive(pid)).to.equal(true);

    const health = await fetch(`http://127.0.0.1:${env['PORT']}/health`);
    expect(health.status).to.equal(200);
    expect(await health.json()).to.deep.equal({ ok: true });

    const second = await run('bash', [script('start_bg.sh')], { env });
    expect(second.code).to.equal(3);
    expect(second.stderr).to.match(new RegExp(`already running as PID ${pid}`));

    const warm = await run('bash', [script('warmup.sh'), '--tone', '--seconds', '2'], { env });
    expect(warm.code, warm.stderr).to.equal(0);
    expect(JSON.parse(warm.stdout)).to.have.keys('prediction', 'probability', 'metrics');

    const down = await run('bash', [script('stop.sh')], { env });
    expect(down.code, down.stderr).to.equal(0);
    expect(down.stderr).to.match(/stopping PID \d+ \(SIGTERM/);
    expect(alive(pid)).to.equal(false);
    expect(sessionMembers(pid)).to.deep.equal([]);
    expect(existsSync(path.join(runDir, 'server.pid'))).to.equal(false);
    await fetch(`http://127.0.0.1:${env['PORT']}/health`).then(
      () => expect.fail('the port still answers'),
      (error: Error & { cause?: { code?: string } }) => expect(error.cause?.code).to.equal('ECONNREFUSED'),
    );
    // The drain was logged: SIGTERM reached Node itself, not a wrapper.
    expect(readFileSync(path.join(runDir, 'server.log'), 'utf8')).to.match(/drained; bye/);
  });

  it('main.sh fails clearly, with the log lines, when the server cannot start', async () => {
    const bogus = path.join(runDir, 'broken.onnx');
    writeFileSync(bogus, 'not an onnx model');
    const up = await run('bash', [script('main.sh'), '--no-setup'], { env: { ...env, MODEL_PATH: bogus }, timeoutMs: 50_000 });
    expect(up.code).to.equal(1);
    expect(up.stderr).to.match(/last lines of .*server\.log/);
    expect(up.stderr).to.include('broken.onnx');
    expect(up.stderr).to.match(/the server exited/);
    expect(existsSync(path.join(runDir, 'server.pid'))).to.equal(false);
  });

  it('start_bg.sh refuses a port another server already answers on', async () => {
    const other = http.createServer((_req, res) => res.end('{}'));
    await new Promise<void>((resolve) => other.listen(Number(env['PORT']), '127.0.0.1', resolve));
    try {
      const r = await run('bash', [script('start_bg.sh')], { env });
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(new RegExp(`something already answers on port ${env['PORT']}`));
      expect(existsSync(path.join(runDir, 'server.pid'))).to.equal(false);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it('stop.sh with nothing running says so and succeeds', async () => {
    const r = await run('bash', [script('stop.sh')], { env });
    expect(r.code).to.equal(0);
    expect(r.stderr).to.match(/no background server running/);
  });

  it('stop.sh --purge removes installs, builds, engines, caches and logs, and keeps the repo and the HF cache', async () => {
    // A scratch checkout: purge must never run on the shared one.
    const repo = mkdtempSync(path.join(os.tmpdir(), 'smart-turn-purge-'));
    try {
      cpSync(path.join(ROOT, 'scripts'), path.join(repo, 'scripts'), { recursive: true });
      const files = ['node_modules/x/index.js', 'dist/ts/main.js', 'build/Release/smart_turn_native.node', '.cache/m.onnx', 'run/server.log', 'engines/README.md', 'engines/trt-10.16-sm89/plan.engine', 'ts/main.ts', 'home/.cache/huggingface/hub/models--pipecat-ai--smart-turn-v2/blob'];
      for (const file of files) {
        mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
        writeFileSync(path.join(repo, file), 'x');
      }
      const r = await run('bash', [path.join(repo, 'scripts/stop.sh'), '--purge'], { env: { HOME: path.join(repo, 'home'), HF_HOME: '', HF_HUB_CACHE: '', XDG_CACHE_HOME: '' } });
      expect(r.code, r.stderr).to.equal(0);
      const left = files.filter((file) => existsSync(path.join(repo, file)));
      expect(left).to.deep.equal(['engines/README.md', 'ts/main.ts', 'home/.cache/huggingface/hub/models--pipecat-ai--smart-turn-v2/blob']);
      expect(r.stderr).to.match(/kept downloaded models in the shared Hugging Face cache/);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });
  it('stop.sh sends SIGKILL to a server still running STOP_TIMEOUT_S after SIGTERM', async () => {
    // A process that ignores SIGTERM and whose command line names ts/main.ts, as the server's does.
    const stubborn = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => console.log('ignored')); console.log('ready'); setInterval(() => {}, 1000)", 'ts/main.ts'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const ended = new Promise<NodeJS.Signals | null>((resolve) => stubborn.on('exit', (_code, signal) => resolve(signal)));
    let said = '';
    stubborn.stdout!.on('data', (d) => (said += d));
    while (!said.includes('ready')) await new Promise((r) => setTimeout(r, 10)); // its handler is installed
    writeFileSync(path.join(runDir, 'server.pid'), String(stubborn.pid));
    const r = await run('bash', [script('stop.sh')], { env: { ...env, STOP_TIMEOUT_S: '1' } });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(new RegExp(`stopping PID ${stubborn.pid} \\(SIGTERM; waiting up to 1s`));
    expect(r.stderr, r.stderr).to.match(/still running after 1s: SIGKILL\n.*stopped/);
    expect(await ended).to.equal('SIGKILL');
    expect(said).to.equal('ready\nignored\n'); // it did get the SIGTERM first
    expect(existsSync(path.join(runDir, 'server.pid'))).to.equal(false);
  });

  describe('setup.sh', () => {
    /** A scratch checkout with setup.sh, and fake npm and npx on PATH that log how they were called. */
    function scratch(): { repo: string; calls: () => string[]; env: Record<string, string> } {
      const repo = mkdtempSync(path.join(os.tmpdir(), 'smart-turn-setup-'));
      cpSync(path.join(ROOT, 'scripts'), path.join(repo, 'scripts'), { recursive: true });
      for (const file of ['package-lock.json', 'tsconfig.json']) cpSync(path.join(ROOT, file), path.join(repo, file));
      mkdirSync(path.join(repo, 'ts'));
      writeFileSync(path.join(repo, 'ts/main.ts'), '');
      const bin = path.join(repo, 'fake-bin');
      mkdirSync(bin);
      for (const tool of ['npm', 'npx']) {
        // What npm ci and tsc leave behind that setup.sh writes its stamps into: the folders.
        writeFileSync(path.join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "${path.join(repo, 'calls.log')}"\n[ "$1" = ci ] && mkdir -p node_modules\n[ "$1" = --no-install ] && mkdir -p dist\nexit 0\n`);
        chmodSync(path.join(bin, tool), 0o755);
      }
      return {
        repo,
        calls: () => (existsSync(path.join(repo, 'calls.log')) ? readFileSync(path.join(repo, 'calls.log'), 'utf8').trim().split('\n') : []),
        env: { PATH: `${bin}:${process.env['PATH']}` },
      };
    }

    it('on a fresh checkout: npm ci, the addon when npm ci left none, tsc; then a re-run does nothing', async () => {
      const { repo, calls, env: path_ } = scratch();
      try {
        const first = await run('bash', [path.join(repo, 'scripts/setup.sh')], { env: path_ });
        expect(first.code, first.stderr).to.equal(0);
        expect(calls()).to.deep.equal(['npm ci --no-audit --no-fund', 'npm run --silent build:native', 'npx --no-install tsc -p tsconfig.json']);
        expect(first.stderr).to.match(/done\. Start the server with: bash scripts\/start\.sh/);
        // What the real npm ci and build would have left behind:
        mkdirSync(path.join(repo, 'build/Release'), { recursive: true });
        writeFileSync(path.join(repo, 'build/Release/smart_turn_native.node'), '');
        const again = await run('bash', [path.join(repo, 'scripts/setup.sh')], { env: path_ });
        expect(again.code, again.stderr).to.equal(0);
        expect(calls(), 'nothing more ran').to.have.length(3);
        expect(again.stderr).to.match(/npm packages are current[\s\S]*native addon present[\s\S]*TypeScript build is current/);
        // A changed lock file or source brings back exactly the steps they feed.
        writeFileSync(path.join(repo, 'package-lock.json'), '{}\n');
        writeFileSync(path.join(repo, 'ts/main.ts'), '// changed\n', { flag: 'a' });
        const changed = await run('bash', [path.join(repo, 'scripts/setup.sh')], { env: path_ });
        expect(changed.code, changed.stderr).to.equal(0);
        expect(calls().slice(3)).to.deep.equal(['npm ci --no-audit --no-fund', 'npx --no-install tsc -p tsconfig.json']);
      } finally {
        rmSync(repo, { recursive: true, force: true });
      }
    });

    it('refuses a Node older than 20 and an unknown option', async () => {
      const { repo, env: path_ } = scratch();
      try {
        writeFileSync(path.join(repo, 'fake-bin/node'), '#!/bin/sh\ncase "$1" in -p) echo 18 ;; --version) echo v18.19.0 ;; esac\n');
        chmodSync(path.join(repo, 'fake-bin/node'), 0o755);
        const old = await run('bash', [path.join(repo, 'scripts/setup.sh')], { env: path_ });
        expect(old.code).to.equal(1);
        expect(old.stderr).to.match(/Node v18\.19\.0 is too old: this server needs Node 20 or newer/);
        const bad = await run('bash', [path.join(repo, 'scripts/setup.sh'), '--fast']);
        expect(bad.code).to.equal(1);
        expect(bad.stderr).to.match(/unknown option --fast/);
      } finally {
        rmSync(repo, { recursive: true, force: true });
      }
    });
  });

  describe('make_sample.sh', () => {
    it('speaks the two shipped clips with espeak-ng: 16 kHz mono 16-bit, as long as the committed ones', async () => {
      const repo = mkdtempSync(path.join(os.tmpdir(), 'smart-turn-samples-'));
      try {
        cpSync(path.join(ROOT, 'scripts'), path.join(repo, 'scripts'), { recursive: true });
        const r = await run('bash', [path.join(repo, 'scripts/make_sample.sh')]);
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stderr, 'espeak-ng must be installed (.ci/packages)').not.to.include('espeak-ng not found');
        for (const name of ['mid.wav', 'end.wav']) {
          const made = decodeWav(readFileSync(path.join(repo, 'samples', name)));
          const shipped = decodeWav(readFileSync(path.join(ROOT, 'samples', name)));
          expect([made.sourceRate, made.channels, made.bitDepth]).to.deep.equal([16000, 1, '16']);
          expect(r.stdout).to.include(`samples/${name}: `);
          // Another espeak-ng release may speak a little faster or slower; the sentence stays the same.
          expect(made.samples.length / shipped.samples.length, name).to.be.within(0.8, 1.25);
          const rms = Math.sqrt(made.samples.reduce((sum, x) => sum + x * x, 0) / made.samples.length);
          expect(rms, `${name} holds speech, not silence`).to.be.above(0.01);
        }
      } finally {
        rmSync(repo, { recursive: true, force: true });
      }
    });

    it('writes 16 kHz mono tone bursts where espeak-ng is missing, saying so', async () => {
      const repo = mkdtempSync(path.join(os.tmpdir(), 'smart-turn-samples-'));
      try {
        cpSync(path.join(ROOT, 'scripts'), path.join(repo, 'scripts'), { recursive: true });
        // A PATH with sox and the basic tools the script uses, but no espeak-ng.
        const bin = path.join(repo, 'bin');
        mkdirSync(bin);
        for (const tool of ['sox', 'soxi', 'mktemp', 'rm', 'mkdir', 'stat', 'dirname']) symlinkSync(`/usr/bin/${tool}`, path.join(bin, tool));
        const r = await run('/bin/bash', [path.join(repo, 'scripts/make_sample.sh')], { env: { PATH: bin } });
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stderr).to.match(/espeak-ng not found; writing tone bursts to samples\/mid\.wav/);
        const wav = decodeWav(readFileSync(path.join(repo, 'samples/mid.wav')));
        expect([wav.sourceRate, wav.channels, wav.bitDepth, wav.samples.length]).to.deep.equal([16_000, 1, '16', 2.1 * 16_000]);
      } finally {
        rmSync(repo, { recursive: true, force: true });
      }
    });
  });
});
