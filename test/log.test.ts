// What operators read: one JSON line per request, the start-up configuration, the backend choice, and
// never a key.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { expect } from 'chai';
import { fixture, post, startTestService, type TestService } from './helpers/service.js';

const f4 = readFileSync(fixture('npy/f4.npy'));

/** Everything the server sent on `socket` before closing it. */
function untilClosed(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (d) => (text += d));
    socket.on('close', () => resolve(text));
  });
}

class Lines {
  readonly entries: Array<Record<string, unknown>> = [];
  write(chunk: string): void {
    for (const line of chunk.split('\n')) if (line) this.entries.push(JSON.parse(line));
  }
}

describe('logs and slow clients', () => {
  let svc: TestService;
  afterEach(async () => svc?.stop());

  it('writes one line per request with its id, status, samples, batch and times, and never the key', async () => {
    const lines = new Lines();
    svc = await startTestService({ AUTH_KEY: 'very-secret-key' }, undefined, lines);
    await post(`${svc.url}/raw`, f4, { authorization: 'Key very-secret-key', 'x-request-id': 'turn-1' });
    await post(`${svc.url}/raw`, f4, { authorization: 'Key wrong-key-value', 'x-request-id': 'turn-2' });
    const requests = lines.entries.filter((l) => l['msg'] === 'request');
    expect(requests.map((l) => [l['id'], l['status']])).to.deep.equal([['turn-1', 200], ['turn-2', 401]]);
    expect(requests[0]).to.include({ samples: 1600, batchSize: 1, bucket: 1 });
    for (const key of ['queueWait', 'inference', 'total']) expect(requests[0]![key]).to.be.a('number');
    expect(requests[1]).to.include({ error: 'UNAUTHORIZED' });
    const chosen = lines.entries.find((l) => l['msg'] === 'backend chosen')!;
    expect(chosen).to.include({ backend: 'onnx', family: 'smart-turn-v2' });
    const all = JSON.stringify(lines.entries);
    expect(all).not.to.include('very-secret-key');
    expect(all).not.to.include('wrong-key-value');
  });

  it('closes a connection whose headers never finish within HEADERS_TIMEOUT_MS', async function () {
    this.timeout(10_000);
    svc = await startTestService({ HEADERS_TIMEOUT_MS: '300', BODY_TIMEOUT_MS: '600' });
    const t0 = performance.now();
    const socket = net.connect(svc.port, '127.0.0.1');
    socket.write('POST /raw HTTP/1.1\r\nHost: x\r\n'); // and nothing more
    const answer = await untilClosed(socket);
    // Not before the timeout (a timer never fires early); not Node's default of 60 s either, or the
    // test's own 10 s timeout would end it first.
    expect(performance.now() - t0).to.be.at.least(300);
    expect(answer).to.match(/^HTTP\/1\.1 408/);
    expect((await post(`${svc.url}/raw`, f4)).status).to.equal(200);
  });

  it('answers 408 to a body still arriving after BODY_TIMEOUT_MS', async function () {
    this.timeout(10_000);
    svc = await startTestService({ HEADERS_TIMEOUT_MS: '300', BODY_TIMEOUT_MS: '600' });
    const t0 = performance.now();
    const socket = net.connect(svc.port, '127.0.0.1');
    socket.write(`POST /raw HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${f4.length}\r\n\r\n`);
    socket.write(f4.subarray(0, 100)); // the rest never comes
    const answer = await untilClosed(socket);
    expect(performance.now() - t0).to.be.at.least(600);
    expect(answer).to.match(/^HTTP\/1\.1 408/);
    expect((await post(`${svc.url}/raw`, f4)).status).to.equal(200);
  });
  for (const [framing, head, first] of [
    ['a Content-Length', `Content-Length: ${f4.length}`, f4.subarray(0, 100)],
    ['chunked', 'Transfer-Encoding: chunked', Buffer.concat([Buffer.from('64\r\n'), f4.subarray(0, 100), Buffer.from('\r\n')])],
  ] as const) {
    it(`logs a client that leaves while sending its body (${framing}) as CLIENT_GONE (499), and goes on serving`, async function () {
      this.timeout(10_000);
      const lines = new Lines();
      svc = await startTestService({}, undefined, lines);
      const socket = net.connect(svc.port, '127.0.0.1');
      socket.write(`POST /raw HTTP/1.1\r\nHost: x\r\nX-Request-Id: leaving\r\nContent-Type: application/octet-stream\r\n${head}\r\n\r\n`);
      socket.write(first, () => socket.destroy());
      const logged = (): Record<string, unknown> | undefined => lines.entries.find((l) => l['msg'] === 'request' && l['id'] === 'leaving');
      while (!logged()) await new Promise((r) => setTimeout(r, 10));
      expect(logged()).to.include({ status: 499, error: 'CLIENT_GONE' });
      expect((await post(`${svc.url}/raw`, f4)).status).to.equal(200);
    });
  }
});
