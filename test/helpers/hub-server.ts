// A stand-in for the Hugging Face Hub on 127.0.0.1 (port 0): the resolve URL layout and headers that
// huggingface_hub reads (X-Repo-Commit, ETag / X-Linked-Etag, X-Linked-Size, X-Error-Code), LFS files
// redirected to a "CDN" path that honours Range, a private repo behind a token, a renamed repo behind a
// relative redirect, and faults a test can switch on: a connection cut or stalled mid-file, corrupt or
// extra bytes, a wrong Content-Range, a HEAD never answered, an ETag that is not a checksum.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubFileSpec {
  bytes: Buffer;
  /** LFS files get a sha256 ETag and a redirect to the CDN; others a git-sha1 ETag, served in place. */
  lfs: boolean;
}

export interface HubRepoSpec {
  /** Branch or tag → commit. */
  refs: Record<string, string>;
  /** commit → path → file. */
  commits: Record<string, Record<string, HubFileSpec>>;
  /** Requests need `Authorization: Bearer <token>`. */
  token?: string;
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Git's blob id: what the Hub gives as the ETag of a file not stored in LFS. */
export function gitBlobSha1(bytes: Buffer): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

export class FakeHub {
  readonly requests: SeenRequest[] = [];
  /** CDN responses send this many bytes, then cut the connection. */
  cutAfter: number | undefined;
  /** Downloads flip a byte (same size, wrong hash). */
  corrupt = false;
  /** CDN responses ignore Range and send the whole file with 200. */
  ignoreRange = false;
  /** Every request fails with this status. */
  failWith: number | undefined;
  /** CDN responses send this many bytes, then nothing more, keeping the connection open. */
  stallAfter: number | undefined;
  /** HEAD requests are never answered. */
  stallHead = false;
  /** CDN responses append this many bytes beyond the file (Content-Length counts them). */
  extraBytes = 0;
  /** Ranged CDN responses claim to start this many bytes off the range asked for. */
  rangeOffBy = 0;
  /** Files stored in git get this ETag instead of their git blob id. */
  gitEtag: string | undefined;
  readonly #server: http.Server;
  readonly #repos: Record<string, HubRepoSpec>;
  readonly #renamed: Record<string, string>;
  readonly #blobs = new Map<string, Buffer>();
  readonly #stalled: http.ServerResponse[] = [];

  private constructor(repos: Record<string, HubRepoSpec>, renamed: Record<string, string>) {
    this.#repos = repos;
    this.#renamed = renamed;
    for (const repo of Object.values(repos)) {
      for (const files of Object.values(repo.commits)) {
        for (const f of Object.values(files)) if (f.lfs) this.#blobs.set(sha256(f.bytes), f.bytes);
      }
    }
    this.#server = http.createServer((req, res) => this.#handle(req, res));
  }

  static async start(repos: Record<string, HubRepoSpec>, renamed: Record<string, string> = {}): Promise<FakeHub> {
    const hub = new FakeHub(repos, renamed);
    hub.#server.listen(0, '127.0.0.1');
    await once(hub.#server, 'listening');
    hub.endpoint = `http://127.0.0.1:${(hub.#server.address() as AddressInfo).port}`;
    return hub;
  }

  /** Stays valid after close(), so a test can point a client at a port nobody listens on. */
  endpoint = '';

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    this.#stalled.forEach((res) => res.destroy());
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.endpoint);
    this.requests.push({ method: req.method ?? '', url: url.pathname, headers: req.headers });
    if (this.failWith !== undefined) return void res.writeHead(this.failWith).end();
    if (this.stallHead && req.method === 'HEAD') return void this.#stalled.push(res);

    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    if (cdn) return this.#serveBlob(req, res, this.#blobs.get(cdn[1]!));

    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m) return void res.writeHead(404).end();
    const [repoId, revision, file] = [m[1]!, decodeURIComponent(m[2]!), decodeURIComponent(m[3]!)];
    const renamedTo = this.#renamed[repoId];
    if (renamedTo) {
      return void res.writeHead(307, { location: `/${renamedTo}/resolve/${m[2]}/${m[3]}` }).end();
    }
    const repo = this.#repos[repoId];
    if (!repo) return void res.writeHead(401, { 'x-error-code': 'RepoNotFound' }).end();
    if (repo.token !== undefined && req.headers.authorization !== `Bearer ${repo.token}`) {
      return void res.writeHead(401, { 'x-error-code': 'RepoNotFound' }).end();
    }
    const commit = /^[0-9a-f]{40}$/.test(revision) ? revision : repo.refs[revision];
    const files = commit === undefined ? undefined : repo.commits[commit];
    if (!commit || !files) return void res.writeHead(404, { 'x-error-code': 'RevisionNotFound' }).end();
    const spec = files[file];
    if (!spec) return void res.writeHead(404, { 'x-error-code': 'EntryNotFound', 'x-repo-commit': commit }).end();

    if (spec.lfs) {
      const hash = sha256(spec.bytes);
      return void res
        .writeHead(302, {
          location: `${this.endpoint}/cdn/${hash}`,
          'x-repo-commit': commit,
          'x-linked-etag': `"${hash}"`,
          'x-linked-size': String(spec.bytes.length),
          etag: '"0123456789abcdef0123456789abcdef01234567"', // the pointer file's, not the content's
          'content-length': '0',
        })
        .end();
    }
    res.writeHead(200, {
      'x-repo-commit': commit,
      etag: `"${this.gitEtag ?? gitBlobSha1(spec.bytes)}"`,
      'content-length': String(spec.bytes.length),
    });
    res.end(req.method === 'HEAD' ? undefined : this.corrupt ? flipFirst(spec.bytes) : spec.bytes);
  }

  #serveBlob(req: http.IncomingMessage, res: http.ServerResponse, blob: Buffer | undefined): void {
    if (!blob) return void res.writeHead(404).end();
    let body = this.corrupt ? flipFirst(blob) : blob;
    if (this.extraBytes) body = Buffer.concat([body, Buffer.alloc(this.extraBytes, 1)]);
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && !this.ignoreRange) {
      const start = Number(range[1]);
      body = body.subarray(start);
      const claimed = start + this.rangeOffBy;
      res.writeHead(206, {
        'content-length': String(body.length),
        'content-range': `bytes ${claimed}-${claimed + body.length - 1}/${blob.length}`,
      });
    } else {
      res.writeHead(200, { 'content-length': String(body.length) });
    }
    if (req.method === 'HEAD') return void res.end();
    if (this.stallAfter !== undefined) {
      // Part of the body, then silence on an open connection.
      res.write(body.subarray(0, this.stallAfter));
      return void this.#stalled.push(res);
    }
    if (this.cutAfter === undefined) return void res.end(body);
    // Flush part of the body, then drop the connection without finishing it.
    res.write(body.subarray(0, this.cutAfter), () => setTimeout(() => res.socket?.destroy(), 20));
  }
}

function flipFirst(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  copy[0] = copy[0]! ^ 0xff;
  return copy;
}
