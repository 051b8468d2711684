// Hostile bytes and headers: each gets exactly the answer it should (a .npy body 200 when NumPy's
// np.load accepts it and the server serves that array, else 400 BAD_NPY; the transport cases their own
// status and code), the server serves a valid request right after each, and memory stays bounded.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { numpyVerdicts } from './helpers/npy-oracle.js';
import { fixture, post, startTestService, type TestService } from './helpers/service.js';

const valid = readFileSync(fixture('npy/f4.npy'));
const headerEnd = 10 + valid.readUInt16LE(8);

/** A deterministic PRNG (mulberry32), so a failing case can be replayed by its index. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A .npy with `header` as its dict, version 1 (latin1) or 3 (utf8), with `data` after it. */
function npy(header: string, data: Buffer = valid.subarray(headerEnd), version = 1): Buffer {
  const text = Buffer.from(header + '\n', version === 3 ? 'utf8' : 'latin1');
  const head = Buffer.alloc(version === 1 ? 10 : 12);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(head);
  if (version === 1) head.writeUInt16LE(text.length, 8);
  else head.writeUInt32LE(text.length, 8);
  return Buffer.concat([head, text, data]);
}

interface Case {
  name: string;
  body: Buffer;
  headers?: Record<string, string>;
  chunked?: boolean;
  /** Refused before the body is read as .npy: this status and code. Otherwise NumPy decides. */
  refused?: [number, string];
}

function corpus(): Case[] {
  const cases: Case[] = [];
  // Truncation at every byte of the header, and a few places in the data.
  for (let n = 0; n < headerEnd; n++) cases.push({ name: `truncated at header byte ${n}`, body: valid.subarray(0, n) });
  for (const n of [headerEnd + 1, headerEnd + 3, valid.length - 1]) cases.push({ name: `truncated at data byte ${n}`, body: valid.subarray(0, n) });

  const dict = (descr: string, shape: string, fortran = 'False') => `{'descr': ${descr}, 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  for (const descr of ["'<f2'", "'|b1'", "'<c8'", "'<U4'", "'|O'", "'<i8'", "'>i4'", "'|S3'", "[('a', '<f4')]", "''", "'<f4", '<f4', '42', "'f'"]) {
    cases.push({ name: `descr ${descr}`, body: npy(dict(descr, '(1600,)')) });
  }
  for (const shape of ['(-1,)', '(99999999999999999999,)', '(4611686018427387904,)', '()', '(0,)', '(2, 800)', '(1600, 1, 1)', '(1.5,)', "('a',)", '(400, 400)', '[1600]', '(1600', '1600', '((1600,),)']) {
    cases.push({ name: `shape ${shape}`, body: npy(dict("'<f4'", shape)) });
  }
  for (const fortran of ['None', '1', "'no'"]) cases.push({ name: `fortran_order ${fortran}`, body: npy(dict("'<f4'", '(1600,)', fortran)) });
  for (const header of ['', '{', '}', '{}', "{'descr': '<f4'}", "{'shape': (1600,)}", 'not a dict', "{'descr': '<f4', 'fortran_order': False, 'shape': (1600,)} trailing", "{'descr': '<f4', 'descr': '<f4'", "{1: 2}", "{'a': ", '\x00'.repeat(40)]) {
    cases.push({ name: `header ${JSON.stringify(header).slice(0, 40)}`, body: npy(header) });
  }
  // Non-ASCII, in latin1 (v1) and utf8 (v3) headers.
  cases.push({ name: 'non-ASCII descr, v1', body: npy(dict("'<f4é'", '(1600,)')) });
  cases.push({ name: 'non-ASCII descr, v3', body: npy(dict("'<f☃'", '(1600,)'), undefined, 3) });
  cases.push({ name: 'non-ASCII key, v3', body: npy("{'déscr': '<f4', 'fortran_order': False, 'shape': (1600,), }", undefined, 3) });
  cases.push({ name: 'invalid UTF-8, v3', body: npy(dict("'<f4'", '(1600,)'), undefined, 3).fill(0xff, 14, 16) });
  // Header length fields that overflow the body.
  for (const [version, length] of [[1, 0xffff], [1, 0], [2, 0xffffffff], [2, 0x7fffffff], [3, 1 << 30]] as const) {
    const body = Buffer.from(valid);
    body[6] = version;
    const head = Buffer.alloc(version === 1 ? 10 : 12);
    body.copy(head, 0, 0, 8);
    if (version === 1) head.writeUInt16LE(length, 8);
    else head.writeUInt32LE(length, 8);
    cases.push({ name: `v${version} header length ${length}`, body: Buffer.concat([head, body.subarray(10)]) });
  }
  cases.push({ name: 'bad version 0.0', body: Buffer.concat([valid.subarray(0, 6), Buffer.from([0, 0]), valid.subarray(8)]) });
  cases.push({ name: 'bad version 1.1', body: Buffer.concat([valid.subarray(0, 6), Buffer.from([1, 1]), valid.subarray(8)]) });
  // Random byte flips inside the header, seeded.
  const rng = random(20261126);
  for (let i = 0; i < 60; i++) {
    const body = Buffer.from(valid);
    const flips = 1 + Math.floor(rng() * 4);
    for (let f = 0; f < flips; f++) body[Math.floor(rng() * headerEnd)] = Math.floor(rng() * 256);
    cases.push({ name: `header flip #${i}`, body });
  }
  // NaN and Inf spliced into valid data.
  for (const [i, value] of [[0, NaN], [800, Infinity], [1599, -Infinity]] as const) {
    const body = Buffer.from(valid);
    body.writeFloatLE(value, headerEnd + 4 * i);
    cases.push({ name: `sample ${i} = ${value}`, body });
  }
  cases.push({ name: 'empty body', body: Buffer.alloc(0) });
  cases.push({ name: 'WAV bytes', body: Buffer.concat([Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt '), Buffer.alloc(64)]) });
  const media: [number, string] = [415, 'UNSUPPORTED_MEDIA_TYPE'];
  cases.push({ name: 'JSON body', body: Buffer.from('{"audio": [0.1, 0.2]}'), headers: { 'content-type': 'application/json' }, refused: media });
  for (const type of ['text/plain', 'multipart/form-data; boundary=x', 'audio/wav', 'application/octet-streamx', 'application/npy', '']) {
    cases.push({ name: `content-type ${JSON.stringify(type)}`, body: valid, headers: { 'content-type': type }, refused: media });
  }
  const tooLarge: [number, string] = [413, 'BODY_TOO_LARGE'];
  cases.push({ name: 'body over MAX_BODY_BYTES', body: Buffer.alloc(70_000), refused: tooLarge });
  cases.push({ name: 'chunked body over MAX_BODY_BYTES', body: Buffer.alloc(200_000), chunked: true, refused: tooLarge });
  cases.push({ name: 'chunked truncated .npy', body: valid.subarray(0, 300), chunked: true });
  cases.push({ name: 'chunked garbage', body: Buffer.from('x'.repeat(5000)), chunked: true });
  cases.push({ name: 'wrong key', body: valid, headers: { authorization: 'Key nope' }, refused: [401, 'UNAUTHORIZED'] });
  cases.push({ name: 'key with the wrong scheme', body: valid, headers: { authorization: 'Basic ZnV6ejpmdXp6' }, refused: [401, 'UNAUTHORIZED'] });
  return cases;
}

function send(url: string, c: Case): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', authorization: 'Key fuzz', ...c.headers };
    if (!c.chunked) headers['content-length'] = c.body.length;
    const req = http.request(`${url}/raw`, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode!, json: JSON.parse(text) });
        } catch {
          reject(new Error(`${c.name}: answer is not JSON: ${text.slice(0, 100)}`));
        }
      });
    });
    // The server may answer (413) and close before all of a large body is written.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    if (c.chunked) for (let i = 0; i < c.body.length; i += 4096) req.write(c.body.subarray(i, i + 4096));
    req.end(c.chunked ? undefined : c.body);
  });
}

describe('fuzz', function () {
  this.timeout(120_000);
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ MAX_BODY_BYTES: '65536', AUTH_KEY: 'fuzz', MICRO_BATCH_WINDOW_MS: '0' });
  });
  after(async () => svc.stop());

  it('answers each of 200+ hostile requests exactly as it should, and keeps serving', async () => {
    const cases = corpus();
    expect(cases.length).to.be.at.least(200);
    const npyCases = cases.filter((c) => !c.refused);
    const numpy = numpyVerdicts(npyCases.map((c) => c.body));
    const verdicts = new Map(npyCases.map((c, i) => [c, numpy[i]!] as const));
    // The random flips reach both sides: some leave a file NumPy still loads, most break it.
    const flips = cases.filter((c) => c.name.startsWith('header flip'));
    expect(flips.filter((c) => verdicts.get(c) === 'served').length).to.be.within(1, flips.length - 1);
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const statuses = new Map<number, number>();
    for (const c of cases) {
      const answer = await send(svc.url, c);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      const [status, code] = c.refused ?? (verdicts.get(c) === 'served' ? [200, undefined] : [400, 'BAD_NPY']);
      expect([answer.status, answer.json.error?.code], `${c.name} (NumPy: ${verdicts.get(c) ?? 'not asked'})`).to.deep.equal([status, code]);
      if (status === 200) continue;
      expect(answer.json.error.message, c.name).to.be.a('string').and.not.match(/\n\s+at /); // no stack traces
      const ok = await post(`${svc.url}/raw`, valid, { authorization: 'Key fuzz' });
      expect(ok.status, `valid request after ${c.name}`).to.equal(200);
    }
    const grown = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    console.log(`      ${cases.length} cases: ${[...statuses].map(([s, n]) => `${n}×${s}`).join(', ')}; RSS grew ${grown.toFixed(1)} MiB`);
    expect(grown).to.be.lessThan(200);
    expect(statuses.get(400)).to.be.greaterThan(150);
  });
});
