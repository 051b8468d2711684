// Files from the Hugging Face Hub, cached the way the Hub's own clients cache them, so a cache filled by
// `huggingface-cli download` serves us and ours serves them (huggingface_hub file_download.py):
//   {cache}/models--{org}--{name}/blobs/{etag}                 the bytes, named by their ETag
//   {cache}/models--{org}--{name}/snapshots/{commit}/{file}    a relative symlink to the blob
//   {cache}/models--{org}--{name}/refs/{revision}              the commit a branch or tag pointed at
// A HEAD on {endpoint}/{repo}/resolve/{revision}/{file} (redirects not followed, except relative ones:
// a renamed repo) gives X-Repo-Commit, X-Linked-Etag / ETag (sha256 for LFS files), X-Linked-Size /
// Content-Length and, for LFS files, a Location on a CDN. The bytes stream into blobs/{etag}.incomplete,
// are checked (size, and sha256 when the ETag is one) and renamed into place, so a file at a final path
// is always whole. An interrupted download resumes with a Range request next time.
// The HF_* variables are read by ts/config.ts (Config.hub).
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { HubSettings } from '../config.js';
import { hashFile } from '../lib/files.js';

export interface HubOptions extends HubSettings {
  /** Progress and fallback notices, one line each. */
  log: (line: string) => void;
}

export type HubErrorCode =
  | 'BAD_ARGUMENT'
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'NOT_CACHED'
  | 'NETWORK'
  | 'BAD_RESPONSE'
  | 'INTEGRITY';

export class HubError extends Error {
  constructor(
    readonly code: HubErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'HubError';
  }
}

export interface HubFile {
  /** The snapshot path (a symlink into blobs/); open it like any file. */
  path: string;
  commit: string;
  size: number;
  /** Whether any bytes came over the network this time. */
  source: 'cache' | 'download';
}

const COMMIT = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** The folder of one model repo in the hub cache. */
export function repoFolder(cacheDir: string, repoId: string): string {
  return path.join(cacheDir, `models--${repoId.replaceAll('/', '--')}`);
}

function validate(repoId: string, filename: string, revision: string): void {
  if (!/^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/.test(repoId) || repoId.includes('..') || repoId.includes('--')) {
    throw new HubError('BAD_ARGUMENT', `not a Hub repo id: ${JSON.stringify(repoId)} (expected org/name)`);
  }
  const parts = filename.split('/');
  if (filename === '' || filename.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new HubError('BAD_ARGUMENT', `not a file path inside a repo: ${JSON.stringify(filename)}`);
  }
  if (revision === '' || revision.includes('..') || /[\\\0]/.test(revision)) {
    throw new HubError('BAD_ARGUMENT', `not a revision: ${JSON.stringify(revision)}`);
  }
}

/** The cached snapshot of `filename` at `revision`, without touching the network. */
export async function cachedFile(
  cacheDir: string,
  repoId: string,
  filename: string,
  revision: string,
): Promise<{ path: string; commit: string; size: number } | undefined> {
  validate(repoId, filename, revision);
  const folder = repoFolder(cacheDir, repoId);
  let commit: string | undefined = COMMIT.test(revision) ? revision : undefined;
  if (commit === undefined) {
    try {
      commit = (await fs.readFile(path.join(folder, 'refs', revision), 'utf8')).trim();
    } catch {
      return undefined;
    }
    if (!COMMIT.test(commit)) return undefined;
  }
  const pointer = path.join(folder, 'snapshots', commit, filename);
  try {
    const stat = await fs.stat(pointer); // follows the symlink: a dangling one is no cache entry
    return stat.isFile() ? { path: pointer, commit, size: stat.size } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The local path of `filename` in Hub repo `repoId` at `revision` (branch, tag or commit), downloading
 * it into the cache if needed. Falls back to the cache when the Hub cannot be reached or refuses the
 * credentials, as huggingface_hub does; never when it says the file or revision does not exist.
 */
export async function hubDownload(repoId: string, filename: string, revision: string, options: HubOptions): Promise<HubFile> {
  validate(repoId, filename, revision);
  const where = `${repoId}/${filename}@${revision}`;
  const cached = (): Promise<{ path: string; commit: string; size: number } | undefined> =>
    cachedFile(options.cacheDir, repoId, filename, revision);

  // A commit is immutable: a cached copy needs no HEAD request.
  if (COMMIT.test(revision)) {
    const hit = await cached();
    if (hit) return { ...hit, source: 'cache' };
  }
  if (options.offline) {
    const hit = await cached();
    if (hit) return { ...hit, source: 'cache' };
    throw new HubError(
      'NOT_CACHED',
      `${where}: HF_HUB_OFFLINE is set and the file is not in the cache at ${repoFolder(options.cacheDir, repoId)}`,
    );
  }

  let meta: Metadata;
  try {
    meta = await headFile(repoId, filename, revision, options);
  } catch (error) {
    const fallback = error instanceof HubError && (error.code === 'NETWORK' || error.code === 'UNAUTHORIZED');
    if (fallback) {
      const hit = await cached();
      if (hit) {
        options.log(`${where}: ${error.message}; using the cached copy (commit ${hit.commit.slice(0, 12)})`);
        return { ...hit, source: 'cache' };
      }
    }
    throw error;
  }

  const folder = repoFolder(options.cacheDir, repoId);
  const pointer = path.join(folder, 'snapshots', meta.commit, filename);
  const blob = path.join(folder, 'blobs', meta.etag);

  let source: HubFile['source'] = 'cache';
  if (!(await isFileOfSize(blob, meta.size))) {
    await download(meta, blob, `${repoId}/${filename}`, options);
    source = 'download';
  }
  await link(blob, pointer);
  // Only once the snapshot is whole: until then the ref keeps naming a commit the cache can serve.
  if (revision !== meta.commit) await writeAtomically(path.join(folder, 'refs', revision), meta.commit);
  return { path: pointer, commit: meta.commit, size: meta.size, source };
}

interface Metadata {
  commit: string;
  /** Normalised: no quotes, no W/. */
  etag: string;
  size: number;
  /** Where the bytes are: the resolve URL itself, or a CDN. */
  location: string;
}

function resolveUrl(endpoint: string, repoId: string, filename: string, revision: string): string {
  const file = filename.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${file}`;
}

function headers(options: HubOptions, url: string, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = {
    'user-agent': 'smart-turn-serving (node)',
    // The size we check is the stored one, so no transparent compression.
    'accept-encoding': 'identity',
    ...extra,
  };
  // The token is for the Hub, never for a CDN it redirects to.
  if (options.token && new URL(url).origin === new URL(options.endpoint).origin) h['authorization'] = `Bearer ${options.token}`;
  return h;
}

async function headFile(repoId: string, filename: string, revision: string, options: HubOptions): Promise<Metadata> {
  let url = resolveUrl(options.endpoint, repoId, filename, revision);
  const where = `${repoId}/${filename}@${revision}`;
  for (let hops = 0; ; hops++) {
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'HEAD',
        redirect: 'manual',
        headers: headers(options, url),
        signal: AbortSignal.timeout(options.etagTimeoutMs),
      });
    } catch (error) {
      throw new HubError('NETWORK', `could not reach ${options.endpoint} (${describe(error)})`, { cause: error });
    }
    const location = res.headers.get('location');
    // Relative redirects are the Hub's (a renamed repo); absolute ones go to the CDN and stay unfollowed.
    if (res.status >= 300 && res.status < 400 && location !== null && !/^([a-z][a-z0-9+.-]*:)?\/\//i.test(location) && hops < 5) {
      url = new URL(location, url).toString();
      continue;
    }
    if (res.status === 401 || res.status === 403) {
      throw new HubError(
        'UNAUTHORIZED',
        `${where}: the Hub answered ${res.status}${options.token ? ' for this HF_TOKEN' : '; the repo may be private or gated: set HF_TOKEN'}`,
      );
    }
    if (res.status === 404) {
      const kind = res.headers.get('x-error-code');
      const what =
        kind === 'RevisionNotFound' ? `revision ${revision} does not exist` :
        kind === 'RepoNotFound' ? `repo ${repoId} does not exist (or is private: set HF_TOKEN)` :
        `file ${filename} does not exist at ${revision}`;
      throw new HubError('NOT_FOUND', `${where}: ${what}`);
    }
    if (res.status >= 500 || res.status === 429) {
      throw new HubError('NETWORK', `the Hub answered ${res.status} for ${where}`);
    }
    if (res.status >= 400) throw new HubError('BAD_RESPONSE', `the Hub answered ${res.status} for ${where}`);

    const commit = res.headers.get('x-repo-commit');
    const etag = normaliseEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
    const size = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length') ?? NaN);
    if (commit === null || !COMMIT.test(commit)) {
      throw new HubError('BAD_RESPONSE', `${url} gave no X-Repo-Commit: is HF_ENDPOINT (${options.endpoint}) a Hub?`);
    }
    if (etag === undefined || !/^[\w.-]+$/.test(etag)) throw new HubError('BAD_RESPONSE', `${url} gave no usable ETag`);
    if (!Number.isSafeInteger(size) || size < 0) throw new HubError('BAD_RESPONSE', `${url} gave no file size`);
    return { commit, etag, size, location: location === null ? url : new URL(location, url).toString() };
  }
}

function normaliseEtag(raw: string | null): string | undefined {
  if (raw === null) return undefined;
  const e = raw.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  return e === '' ? undefined : e;
}

async function isFileOfSize(file: string, size: number): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    return stat.isFile() && stat.size === size;
  } catch {
    return false;
  }
}

/** Streams `meta.location` into `blob` through `blob.incomplete`, checked before the rename. */
async function download(meta: Metadata, blob: string, name: string, options: HubOptions): Promise<void> {
  const partial = `${blob}.incomplete`;
  await fs.mkdir(path.dirname(blob), { recursive: true });
  // The ETag is the content's sha256 for LFS files and its git blob id for the rest: both checkable.
  // Anything else (a mirror's own ETag) checks nothing: warned, not refused, as huggingface_hub
  // itself never verifies content; the size is still checked.
  const check = SHA256.test(meta.etag) ? 'sha256' : COMMIT.test(meta.etag) ? 'git-sha1' : undefined;
  if (check === undefined) options.log(`${name}: the ETag ${meta.etag} is neither a sha256 nor a git hash: only the size can be checked`);
  const hash = createHash(check === 'git-sha1' ? 'sha1' : 'sha256');
  if (check === 'git-sha1') hash.update(`blob ${meta.size}\0`);

  let have = 0;
  try {
    have = (await fs.stat(partial)).size;
  } catch {
    // nothing to resume
  }
  if (have > meta.size) {
    await fs.rm(partial, { force: true });
    have = 0;
  }

  const idle = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const touch = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(new Error(`no data for ${options.downloadTimeoutMs} ms`)), options.downloadTimeoutMs);
  };

  const started = Date.now();
  const host = new URL(meta.location).host;
  let file: fs.FileHandle | undefined;
  try {
    if (have === meta.size) {
      // Whole but never checked and renamed (a crash between the two): no request needed.
      await hashFile(partial, hash);
    } else {
      touch();
      let res: Response;
      try {
        const range: Record<string, string> = have > 0 ? { range: `bytes=${have}-` } : {};
        res = await fetch(meta.location, { headers: headers(options, meta.location, range), signal: idle.signal });
      } catch (error) {
        throw new HubError('NETWORK', `${name}: download from ${host} failed (${describe(error)})`, { cause: error });
      }
      if (res.status === 206 && have > 0 && rangeStart(res) === have) {
        await hashFile(partial, hash);
        file = await fs.open(partial, 'a');
      } else if (res.status === 200 || res.status === 206) {
        if (res.status === 206) {
          // A range we did not ask for: start over without one next time.
          await res.body?.cancel();
          await fs.rm(partial, { force: true });
          throw new HubError('NETWORK', `${name}: ${host} answered a Range request with the wrong range; retry starts over`);
        }
        have = 0;
        file = await fs.open(partial, 'w');
      } else {
        await res.body?.cancel();
        throw new HubError(res.status >= 500 ? 'NETWORK' : 'BAD_RESPONSE', `${name}: ${host} answered ${res.status} to the download`);
      }
      options.log(`downloading ${name} (${mb(meta.size)}) from ${host}${have > 0 ? `, resuming at ${mb(have)}` : ''}`);
      await receive(res, file, hash, have, meta.size, name, touch, options);
      await file.sync();
      await file.close();
      file = undefined;
    }
    if (check !== undefined) {
      const digest = hash.digest('hex');
      if (digest !== meta.etag) {
        await fs.rm(partial, { force: true });
        throw new HubError('INTEGRITY', `${name}: ${check} ${digest} does not match the Hub's ETag ${meta.etag}; the download was removed`);
      }
    }
    await fs.rename(partial, blob);
    const secs = (Date.now() - started) / 1000;
    options.log(`downloaded ${name} (${mb(meta.size)}) in ${secs.toFixed(1)} s, ${check ? `${check} verified` : 'size checked, content NOT verified'}`);
  } finally {
    clearTimeout(timer);
    await file?.close().catch(() => undefined);
  }
}

/** Appends the response body to `file`; throws unless exactly `size` bytes end up there. */
async function receive(
  res: Response,
  file: fs.FileHandle,
  hash: Hash,
  have: number,
  size: number,
  name: string,
  touch: () => void,
  options: HubOptions,
): Promise<void> {
  let received = have;
  let lastReport = Date.now();
  try {
    for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) {
      touch();
      received += chunk.byteLength;
      if (received > size) break;
      hash.update(chunk);
      await file.write(chunk);
      if (Date.now() - lastReport >= 2000) {
        lastReport = Date.now();
        options.log(`downloading ${name}: ${Math.floor((100 * received) / size)}% (${mb(received)} of ${mb(size)})`);
      }
    }
  } catch (error) {
    throw new HubError(
      'NETWORK',
      `${name}: download cut at ${mb(received)} of ${mb(size)} (${describe(error)}); it resumes on the next start`,
      { cause: error },
    );
  }
  if (received > size) {
    await file.truncate(0);
    throw new HubError('INTEGRITY', `${name}: the server sent more than the ${size} bytes the Hub announced`);
  }
  if (received < size) {
    throw new HubError('NETWORK', `${name}: download ended at ${received} of ${size} bytes; it resumes on the next start`);
  }
}

function rangeStart(res: Response): number | undefined {
  const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
  return m ? Number(m[1]) : undefined;
}

/** snapshots/{commit}/{file} → ../../blobs/{etag}, relative like the Hub's, replaced atomically. */
async function link(blob: string, pointer: string): Promise<void> {
  await fs.mkdir(path.dirname(pointer), { recursive: true });
  const target = path.relative(path.dirname(pointer), blob);
  try {
    if ((await fs.readlink(pointer)) === target) return;
  } catch {
    // absent, or a plain file (a copy): replace it
  }
  const tmp = `${pointer}.${process.pid}.tmp`;
  await fs.rm(tmp, { force: true });
  try {
    await fs.symlink(target, tmp);
  } catch {
    // A filesystem without symlinks gets a copy, as huggingface_hub does.
    await fs.copyFile(blob, tmp);
  }
  await fs.rename(tmp, pointer);
}

async function writeAtomically(file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, text);
  await fs.rename(tmp, file);
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}
