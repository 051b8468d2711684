// clients/python against the real server: its unittest suite (clients/python/tests) run by Debian's
// /usr/bin/python3 (python3-numpy, python3-aiohttp), with the URLs it needs.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { PYTHON } from './helpers/numpy.js';
import { startTestService, type TestService } from './helpers/service.js';
import { deadPort, ROOT, run, silentServer } from './helpers/tools.js';

describe('python client (clients/python)', function () {
  this.timeout(60_000);
  let svc: TestService;
  let idle: TestService;
  let silent: Awaited<ReturnType<typeof silentServer>>;

  before(async () => {
    svc = await startTestService({ AUTH_KEY: 'dev' });
    // Its streams are closed by the server after half a second without a message: the reconnect tests.
    idle = await startTestService({ AUTH_KEY: 'dev', STREAM_IDLE_TIMEOUT_MS: '500' });
    silent = await silentServer();
  });
  after(async () => {
    await silent?.close();
    await svc?.stop();
    await idle?.stop();
  });

  it('has the interpreter and packages it needs', async () => {
    const probe = await run(PYTHON, ['-c', 'import numpy, aiohttp']);
    expect(probe.code, `${PYTHON} needs python3-numpy and python3-aiohttp: ${probe.stderr}`).to.equal(0);
  });

  it('passes its unittest suite against the server, and its requests and streams reach the server', async () => {
    const result = await run(PYTHON, ['-m', 'unittest', 'discover', '-v', '-s', path.join(ROOT, 'clients/python/tests')], {
      env: {
        SMART_TURN_TEST_URL: `${svc.url}/raw`,
        SMART_TURN_TEST_DEAD: `http://127.0.0.1:${await deadPort()}/raw`,
        SMART_TURN_TEST_SILENT: `${silent.url}/raw`,
        SMART_TURN_TEST_IDLE: `${idle.url}/raw`,
        PYTHONDONTWRITEBYTECODE: '1',
      },
      timeoutMs: 50_000,
    });
    expect(result.code, result.stderr).to.equal(0);
    // Every test the suite defines ran and passed: none skipped, none missing.
    const tests = path.join(ROOT, 'clients/python/tests');
    const defined = readdirSync(tests).filter((file) => /^test_.*\.py$/.test(file))
      .map((file) => (readFileSync(path.join(tests, file), 'utf8').match(/^ {4}def test_/gm) ?? []).length)
      .reduce((a, b) => a + b);
    expect(defined).to.be.at.least(25);
    expect(Number(/^Ran (\d+) tests? in /m.exec(result.stderr)?.[1]), result.stderr).to.equal(defined);
    // " ... ok" ends a test's line, or a line of its own after what the test logged.
    expect(result.stderr.match(/(?: \.\.\. |^)ok$/gm) ?? [], result.stderr).to.have.length(defined);
    expect(result.stderr, result.stderr).to.match(/^OK$/m);
    // The suite's successful calls were answered by this server, not faked.
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    const served = Number(/^smart_turn_requests_total\{route="\/raw",status="200"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
    const refused = Number(/^smart_turn_requests_total\{route="\/raw",status="401"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
    expect(served).to.be.at.least(4);
    expect(refused).to.be.at.least(2);
    const streamed = Number(/^smart_turn_predictions_total\{transport="stream"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
    expect(streamed).to.be.at.least(5);
  });
});
