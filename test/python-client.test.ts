// clients/python against the real server: its unittest suite (clients/python/tests) run by Debian's
// /usr/bin/python3 (python3-numpy, python3-aiohttp), with the URLs it needs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { PYTHON } from './helpers/numpy.js';
import { startTestService, type TestService } from './helpers/service.js';
import { deadPort, ROOT, run, silentServer } from './helpers/tools.js';

describe('python client (clients/python)', function () {
  this.timeout(60_000);
  let svc: TestService;
  let silent: Awaited<ReturnType<typeof silentServer>>;

  before(async () => {
    svc = await startTestService({ AUTH_KEY: 'dev' });
    silent = await silentServer();
  });
  after(async () => {
    await silent?.close();
    await svc?.stop();
  });

  it('has the interpreter and packages it needs', async () => {
    const probe = await run(PYTHON, ['-c', 'import numpy, aiohttp']);
    expect(probe.code, `${PYTHON} needs python3-numpy and python3-aiohttp: ${probe.stderr}`).to.equal(0);
  });

  it('passes its unittest suite against the server, and its requests reach the server', async () => {
    const result = await run(PYTHON, ['-m', 'unittest', 'discover', '-v', '-s', path.join(ROOT, 'clients/python/tests')], {
      env: {
        SMART_TURN_TEST_URL: `${svc.url}/raw`,
        SMART_TURN_TEST_DEAD: `http://127.0.0.1:${await deadPort()}/raw`,
        SMART_TURN_TEST_SILENT: `${silent.url}/raw`,
        PYTHONDONTWRITEBYTECODE: '1',
      },
      timeoutMs: 50_000,
    });
    expect(result.code, result.stderr).to.equal(0);
    // Every test the suite defines ran and passed: none skipped, none missing.
    const defined = (readFileSync(path.join(ROOT, 'clients/python/tests/test_client.py'), 'utf8').match(/^ {4}def test_/gm) ?? []).length;
    expect(defined).to.be.at.least(13);
    expect(Number(/^Ran (\d+) tests? in /m.exec(result.stderr)?.[1]), result.stderr).to.equal(defined);
    expect(result.stderr.match(/ \.\.\. ok$/gm) ?? [], result.stderr).to.have.length(defined);
    expect(result.stderr, result.stderr).to.match(/^OK$/m);
    // The suite's successful calls were answered by this server, not faked.
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    const served = Number(/^smart_turn_requests_total\{route="\/raw",status="200"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
    const refused = Number(/^smart_turn_requests_total\{route="\/raw",status="401"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
    expect(served).to.be.at.least(4);
    expect(refused).to.be.at.least(2);
  });
});
