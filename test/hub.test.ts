import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { cachedFile, HubError, hubDownload, repoFolder, type HubOptions } from '../ts/startup/hub.js';
import { FakeHub, gitBlobSha1, sha256 } from './helpers/hub-server.js';

const C_MAIN = 'a'.repeat(40);
const C_OLD = 'b'.repeat(40);
const C_PRIVATE = 'c'.repeat(40);
const REPO = 'pipecat-ai/smart-turn-v3';
const FILE = 'smart-turn-v3.2-cpu.onnx';
// Big enough for a cut mid-file to leave a real partial download.
const MODEL = Buffer.concat([readFileSync('test/fixtures/models/readout-v3.onnx'), Buffer.alloc(300_000, 7)]);
const OLD_MODEL = readFileSync('test/fixtures/models/readout-v2.onnx');
const README = Buffer.from('# smart-turn v3 (fixture)\n');

async function startHub(): Promise<FakeHub> {
  return FakeHub.start(
    {
      [REPO]: {
        refs: { main: C_MAIN, 'v3.0': C_OLD },
        commits: {
          [C_MAIN]: { [FILE]: { bytes: MODEL, lfs: true }, 'README.md': { bytes: README, lfs: false } },
          [C_OLD]: { [FILE]: { bytes: OLD_MODEL, lfs: true } },
        },
      },
      'org/private': { refs: { main: C_PRIVATE }, commits: { [C_PRIVATE]: { 'model.onnx': { bytes: MODEL, lfs: true } } }, token: 'secret' },
    },
    { 'old-org/old-name': REPO },
  );
}

describe('hub download and cache', () => {
  let hub: FakeHub;
  let cache: string;
  let lines: string[];
  const options = (extra: Partial<HubOptions> = {}): HubOptions => ({
    endpoint: hub.endpoint,
    token: undefined,
    cacheDir: cache,
    offline: false,
    etagTimeoutMs: 2000,
    downloadTimeoutMs: 2000,
    log: (line) => lines.push(line),
    ...extra,
  });

  beforeEach(async () => {
    hub = await startHub();
    cache = await fs.mkdtemp(path.join(tmpdir(), 'hub-cache-'));
    lines = [];
  });

  afterEach(async () => {
    await hub.close();
    await fs.rm(cache, { recursive: true, force: true });
  });

  const blobs = (repo = REPO): Promise<string[]> => fs.readdir(path.join(repoFolder(cache, repo), 'blobs')).catch(() => []);

  describe('bad calls', () => {
    for (const repo of ['', 'a/b/c', '../evil', 'org/..', '/abs', 'org--x/y']) {
      it(`refuses the repo id ${JSON.stringify(repo)} before any request`, async () => {
        const err = await hubDownload(repo, FILE, 'main', options()).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(HubError).with.property('code', 'BAD_ARGUMENT');
        expect(hub.requests).to.have.length(0);
      });
    }

    for (const file of ['', '../../etc/passwd', '/etc/passwd', 'a//b', 'a/./b']) {
      it(`refuses the file path ${JSON.stringify(file)}`, async () => {
        const err = await hubDownload(REPO, file, 'main', options()).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(HubError).with.property('code', 'BAD_ARGUMENT');
      });
    }

    it('refuses an empty revision or one that climbs out of refs/', async () => {
      for (const rev of ['', '../../x']) {
        const err = await hubDownload(REPO, FILE, rev, options()).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(HubError).with.property('code', 'BAD_ARGUMENT');
      }
    });
  });

  describe('expected failures', () => {
    it('a file the repo does not have: NOT_FOUND, nothing cached', async () => {
      const err = await hubDownload(REPO, 'nope.onnx', 'main', options()).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(HubError).with.property('code', 'NOT_FOUND');
      expect((err as Error).message).to.match(/nope\.onnx does not exist/);
      expect(await blobs()).to.deep.equal([]);
    });

    it('a revision the repo does not have: NOT_FOUND naming it', async () => {
      const err = await hubDownload(REPO, FILE, 'v9', options()).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(HubError).with.property('code', 'NOT_FOUND');
      expect((err as Error).message).to.match(/revision v9 does not exist/);
    });

    it('a private repo without a token, or with a wrong one: UNAUTHORIZED, pointing at HF_TOKEN', async () => {
      const none = await hubDownload('org/private', 'model.onnx', 'main', options()).catch((e: unknown) => e);
      expect(none).to.be.instanceOf(HubError).with.property('code', 'UNAUTHORIZED');
      expect((none as Error).message).to.match(/HF_TOKEN/);
      const wrong = await hubDownload('org/private', 'model.onnx', 'main', options({ token: 'nope' })).catch((e: unknown) => e);
      expect(wrong).to.be.instanceOf(HubError).with.property('code', 'UNAUTHORIZED');
      expect((wrong as Error).message).not.to.contain('nope');
    });

    it('the Hub failing (500) with nothing cached: NETWORK', async () => {
      hub.failWith = 500;
      const err = await hubDownload(REPO, FILE, 'main', options()).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(HubError).with.property('code', 'NETWORK');
    });

    it('no server at HF_ENDPOINT with nothing cached: NETWORK', async () => {
      const endpoint = hub.endpoint;
      await hub.close();
      const err = await hubDownload(REPO, FILE, 'main', options({ endpoint })).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(HubError).with.property('code', 'NETWORK');
    });

    it('offline with nothing cached: NOT_CACHED, and not one request', async () => {
      const err = await hubDownload(REPO, FILE, 'main', options({ offline: true })).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(HubError).with.property('code', 'NOT_CACHED');
      expect((err as Error).message).to.match(/HF_HUB_OFFLINE/);
      expect(hub.requests).to.have.length(0);
    });

    it('a connection cut mid-file leaves only an .incomplete file; the next start resumes it with Range', async () => {
      hub.cutAfter = 100_000;
      const err = await hubDownload(REPO, FILE, 'main', options()).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(HubError).with.property('code', 'NETWORK');
      const hash = sha256(MODEL);
      expect(await blobs()).to.deep.equal([`${hash}.incomplete`]);
      const partial = await fs.stat(path.join(repoFolder(cache, REPO), 'blobs', `${hash}.incomplete`));
      expect(partial.size).to.be.at.least(1).and.below(MODEL.length);
      expect(existsSync(path.join(repoFolder(cache, REPO), 'snapshots', C_MAIN, FILE))).to.equal(false);
      expect(await cachedFile(cache, REPO, FILE, 'main')).to.equal(undefined);

      hub.cutAfter = undefined;
      hub.requests.length = 0;
      const got = await hubDownload(REPO, FILE, 'main', options());
      expect(got.source).to.equal('download');
      expect(readFileSync(got.path).equals(MODEL)).to.equal(true);
      const cdn = hub.requests.find((r) => r.url.startsWith('/cdn/'));
      expect(cdn?.headers.range).to.equal(`bytes=${partial.size}-`);
      expect(await blobs()).to.deep.equal([hash]);
      expect(lines.join('\n')).to.match(/resuming at/);
    });

    it('a resume the server answers with the whole file (200) starts over and still verifies', async () => {
      hub.cutAfter = 50_000;
      await hubDownload(REPO, FILE, 'main', options()).catch(() => undefined);
      hub.cutAfter = undefined;
      hub.ignoreRange = true;
      const got = await hubDownload(REPO, FILE, 'main', options());
      expect(readFileSync(got.path).equals(MODEL)).to.equal(true);
    });

    it('a HEAD the Hub never answers: NETWORK after HF_HUB_ETAG_TIMEOUT, or the cached copy', async () => {
      hub.stallHead = true;
      const err = await hubDownload(REPO, FILE, 'main', options({ etagTimeoutMs: 200 })).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(HubError).with.property('code', 'NETWORK');
      expect((err as Error).message).to.match(/could not reach .*(timeout|aborted)/i);
      hub.stallHead = false;
      await hubDownload(REPO, FILE, 'main', options());
      hub.stallHead = true;
      const cached = await hubDownload(REPO, FILE, 'main', options({ etagTimeoutMs: 200 }));
      expect(cached.source).to.equal('cache');
    });

    it('a download that stalls: NETWORK after HF_HUB_DOWNLOAD_TIMEOUT of silence, the part kept for a resume', async () => {
      hub.stallAfter = 100_000;
      const err = await hubDownload(REPO, FILE, 'main', options({ downloadTimeoutMs: 300 })).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(HubError).with.property('code', 'NETWORK');
      expect((err as Error).message).to.match(/download cut at 0\.1 MB of 0\.3 MB \(no data for 300 ms\).*resumes on the next start/);
      expect(await blobs()).to.deep.equal([`${sha256(MODEL)}.incomplete`]);
      hub.stallAfter = undefined;
      const got = await hubDownload(REPO, FILE, 'main', options());
      expect(readFileSync(got.path).equals(MODEL)).to.equal(true);
      expect(hub.requests.filter((r) => r.url.startsWith('/cdn/')).at(-1)?.headers.range).to.equal('bytes=100000-');
    });

    it('a resume answered with another range than asked: NETWORK, the part removed, the next start begins again', async () => {
      hub.cutAfter = 100_000;
      await hubDownload(REPO, FILE, 'main', options()).catch(() => undefined);
      hub.cutAfter = undefined;
      hub.rangeOffBy = 10;
      const err = await hubDownload(REPO, FILE, 'main', options()).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(HubError).with.property('code', 'NETWORK');
      expect((err as Error).message).to.match(/answered a Range request with the wrong range; retry starts over/);
      expect(await blobs()).to.deep.equal([]);
      hub.rangeOffBy = 0;
      const got = await hubDownload(REPO, FILE, 'main', options());
      expect(readFileSync(got.path).equals(MODEL)).to.equal(true);
      expect(hub.requests.filter((r) => r.url.startsWith('/cdn/')).at(-1)?.headers.range).to.equal(undefined);
    });

    it('more bytes than the Hub announced: INTEGRITY, nothing cached', async () => {
      hub.extraBytes = 10;
      const err = await hubDownload(REPO, FILE, 'main', options()).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(HubError).with.property('code', 'INTEGRITY');
      expect((err as Error).message).to.match(new RegExp(`sent more than the ${MODEL.length} bytes the Hub announced`));
      expect(await cachedFile(cache, REPO, FILE, 'main')).to.equal(undefined);
    });

    it('a partial file already larger than the announced size: thrown away, the download starts over', async () => {
      const folder = path.join(repoFolder(cache, REPO), 'blobs');
      await fs.mkdir(folder, { recursive: true });
      await fs.writeFile(path.join(folder, `${sha256(MODEL)}.incomplete`), Buffer.alloc(MODEL.length + 5));
      const got = await hubDownload(REPO, FILE, 'main', options());
      expect(readFileSync(got.path).equals(MODEL)).to.equal(true);
      expect(hub.requests.find((r) => r.url.startsWith('/cdn/'))?.headers.range).to.equal(undefined);
      expect(await blobs()).to.deep.equal([sha256(MODEL)]);
    });

    it('an HF_ENDPOINT that is not a Hub (no X-Repo-Commit): BAD_RESPONSE, saying so', async () => {
      const plain = http.createServer((_req, res) => res.writeHead(200, { 'content-length': '5', etag: '"abc"' }).end('hello'));
      plain.listen(0, '127.0.0.1');
      await once(plain, 'listening');
      try {
        const endpoint = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
        const err = await hubDownload(REPO, FILE, 'main', options({ endpoint })).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(HubError).with.property('code', 'BAD_RESPONSE');
        expect((err as Error).message).to.match(/gave no X-Repo-Commit: is HF_ENDPOINT \(http:\/\/127\.0\.0\.1:\d+\) a Hub\?/);
      } finally {
        plain.closeAllConnections();
        plain.close();
      }
    });

    it('an ETag that is neither a sha256 nor a git hash: downloaded with the size checked, and a warning that the content was not', async () => {
      hub.gitEtag = 'mirror-etag-1234';
      const got = await hubDownload(REPO, 'README.md', 'main', options());
      expect(readFileSync(got.path).equals(README)).to.equal(true);
      expect(lines).to.include('pipecat-ai/smart-turn-v3/README.md: the ETag mirror-etag-1234 is neither a sha256 nor a git hash: only the size can be checked');
      expect(lines.at(-1)).to.match(/size checked, content NOT verified$/);
    });

    it('bytes whose sha256 is not the ETag: INTEGRITY, and the bad file is gone', async () => {
      hub.corrupt = true;
      const err = await hubDownload(REPO, FILE, 'main', options()).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(HubError).with.property('code', 'INTEGRITY');
      expect(await blobs()).to.deep.equal([]);
      expect(await cachedFile(cache, REPO, FILE, 'main')).to.equal(undefined);
    });

    it('a git-stored file whose bytes do not hash to its git blob id: INTEGRITY', async () => {
      hub.corrupt = true;
      const err = await hubDownload(REPO, 'README.md', 'main', options()).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(HubError).with.property('code', 'INTEGRITY');
      expect((err as Error).message).to.match(/git-sha1/);
      expect(await blobs()).to.deep.equal([]);
    });
  });

  describe('normal path', () => {
    it('downloads an LFS file into the Hub cache layout, verified, with a progress line', async () => {
      const got = await hubDownload(REPO, FILE, 'main', options());
      const folder = repoFolder(cache, REPO);
      expect(got).to.deep.equal({ path: path.join(folder, 'snapshots', C_MAIN, FILE), commit: C_MAIN, size: MODEL.length, source: 'download' });
      expect(await fs.readlink(got.path)).to.equal(`../../blobs/${sha256(MODEL)}`);
      expect(readFileSync(got.path).equals(MODEL)).to.equal(true);
      expect(readFileSync(path.join(folder, 'refs', 'main'), 'utf8')).to.equal(C_MAIN);
      expect(lines[0]).to.match(/^downloading pipecat-ai\/smart-turn-v3\/smart-turn-v3\.2-cpu\.onnx \(0\.3 MB\) from 127\.0\.0\.1/);
      expect(lines.at(-1)).to.match(/sha256 verified/);
      const head = hub.requests[0]!;
      expect(head.method).to.equal('HEAD');
      expect(head.url).to.equal(`/${REPO}/resolve/main/${FILE}`);
      expect(head.headers['accept-encoding']).to.equal('identity');
    });

    it('a second start uses the cache: a HEAD to check main, no download', async () => {
      await hubDownload(REPO, FILE, 'main', options());
      hub.requests.length = 0;
      const again = await hubDownload(REPO, FILE, 'main', options());
      expect(again.source).to.equal('cache');
      expect(hub.requests.map((r) => r.method)).to.deep.equal(['HEAD']);
    });

    it('a second start without network, or offline, uses the cache', async () => {
      const first = await hubDownload(REPO, FILE, 'main', options());
      const endpoint = hub.endpoint;
      await hub.close();
      const noNetwork = await hubDownload(REPO, FILE, 'main', options({ endpoint }));
      expect(noNetwork).to.deep.equal({ ...first, source: 'cache' });
      expect(lines.at(-1)).to.match(/could not reach .*using the cached copy/);
      const offline = await hubDownload(REPO, FILE, 'main', options({ endpoint, offline: true }));
      expect(offline).to.deep.equal({ ...first, source: 'cache' });
    });

    it('a cached commit needs no request at all', async () => {
      await hubDownload(REPO, FILE, 'v3.0', options());
      hub.requests.length = 0;
      const got = await hubDownload(REPO, FILE, C_OLD, options());
      expect(got.source).to.equal('cache');
      expect(readFileSync(got.path).equals(OLD_MODEL)).to.equal(true);
      expect(hub.requests).to.have.length(0);
    });

    it('keeps revisions apart: a tag resolves to its own commit and bytes', async () => {
      const main = await hubDownload(REPO, FILE, 'main', options());
      const old = await hubDownload(REPO, FILE, 'v3.0', options());
      expect(old.commit).to.equal(C_OLD);
      expect(readFileSync(old.path).equals(OLD_MODEL)).to.equal(true);
      expect(readFileSync(main.path).equals(MODEL)).to.equal(true);
    });

    it('sends the token to the Hub but never to the CDN it redirects to', async () => {
      const endpoint = hub.endpoint.replace('127.0.0.1', 'localhost'); // CDN stays on 127.0.0.1: another origin
      const got = await hubDownload('org/private', 'model.onnx', 'main', options({ endpoint, token: 'secret' }));
      expect(readFileSync(got.path).equals(MODEL)).to.equal(true);
      const head = hub.requests.find((r) => r.method === 'HEAD')!;
      const cdn = hub.requests.find((r) => r.url.startsWith('/cdn/'))!;
      expect(head.headers.authorization).to.equal('Bearer secret');
      expect(cdn.headers.authorization).to.equal(undefined);
    });

    it('downloads a file stored in git (not LFS) from the resolve URL itself, checked against its git blob id', async () => {
      const got = await hubDownload(REPO, 'README.md', 'main', options());
      expect(readFileSync(got.path).equals(README)).to.equal(true);
      expect(await fs.readlink(got.path)).to.equal(`../../blobs/${gitBlobSha1(README)}`);
      expect(lines.at(-1)).to.match(/git-sha1 verified/);
    });

    it('follows a relative redirect (a renamed repo) and caches under the name asked for', async () => {
      const got = await hubDownload('old-org/old-name', FILE, 'main', options());
      expect(got.path.startsWith(repoFolder(cache, 'old-org/old-name'))).to.equal(true);
      expect(readFileSync(got.path).equals(MODEL)).to.equal(true);
    });
  });
});
