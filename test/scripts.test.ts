// scripts/*.sh as a person runs them: main.sh brings up a background server on a free loopback port
// with the fixture model, stop.sh takes it down leaving no process; --purge cleans a scratch copy.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
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
});
