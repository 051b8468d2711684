// Reads a request body under a byte limit. The limit is enforced from Content-Length before a byte is
// buffered, and again while streaming (chunked bodies), so a large upload is refused, not held; the
// refusal is answered before the rest of the body is read and discarded (answerThenDrain).
//
// A body with a Content-Length is read into a pooled buffer that is reused once its response has
// closed. A fresh megabyte per request made V8 collect the whole heap every ~10 requests (external
// memory pressure: measured 10.8 major GCs per 100 1 MiB requests, ~3.6 ms of GC-thread CPU per
// request); reused buffers leave only the socket's own chunks to collect. By the time the response
// closes, the request's clip has been written into its batch or dropped (a client leaving aborts its
// queued clip synchronously), so nothing reads the samples any more.
import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { ServeError } from '../errors.js';

const ACCEPTED_TYPES = ['application/octet-stream', 'application/x-npy'];

export async function readAudioBody(ctx: Context, limit: number): Promise<Buffer> {
  const type = ctx.get('content-type').split(';')[0]!.trim().toLowerCase();
  if (!ACCEPTED_TYPES.includes(type)) {
    throw new ServeError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type must be application/octet-stream (np.save bytes), got ${type ? JSON.stringify(type) : 'none'}`,
    );
  }
  const declared = ctx.get('content-length');
  if (declared && Number(declared) > limit) throw tooLarge(Number(declared), limit);
  if (declared) {
    const length = Number(declared);
    const buffer = pool.lease(length);
    ctx.res.once('close', () => pool.release(buffer));
    return readInto(ctx.req, buffer, length);
  }
  try {
    return await getRawBody(ctx.req, { limit });
  } catch (error) {
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') throw tooLarge(undefined, limit);
    if (type === 'request.aborted') throw new ServeError('CLIENT_GONE', 'client disconnected while sending the body');
    throw error;
  }
}

/** How much of a refused body is read and discarded after the answer, at most (nginx: lingering_close). */
export const LINGER = { bytes: 64 * 1024 * 1024, ms: 5000 };

/**
 * Sends the error already set on `ctx` at once, then reads and discards the rest of the request body
 * (up to LINGER) before the connection closes. Node closes a connection whose request body is unread
 * as soon as the answer is written; a client that writes its whole body before reading (Python's
 * urllib and requests) then hits a reset while writing and never sees the answer. Keeping the answer
 * open until the body is in (or the bound is reached) lets it read the JSON; a client that reads while
 * it writes (curl) stops uploading at once.
 */
export function answerThenDrain(ctx: Context): void {
  const { req, res } = ctx;
  if (req.complete) {
    ctx.set('Connection', 'close');
    return;
  }
  ctx.respond = false;
  const payload = JSON.stringify(ctx.body);
  res.writeHead(ctx.status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(payload), Connection: 'close' });
  res.write(payload);
  let discarded = 0;
  const finish = (): void => {
    clearTimeout(timer);
    req.off('data', onData).off('end', finish).off('close', finish);
    res.end();
  };
  const onData = (chunk: Buffer): void => {
    discarded += chunk.length;
    if (discarded > LINGER.bytes) finish();
  };
  const timer = setTimeout(finish, LINGER.ms);
  req.on('data', onData).on('end', finish).on('close', finish);
  req.resume();
}

/** Fills `buffer` with exactly `length` body bytes; the socket's chunks are copied in as they arrive. */
function readInto(req: IncomingMessage, buffer: Buffer, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let at = 0;
    const done = (error?: ServeError): void => {
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone);
      if (error) reject(error);
      else resolve(buffer.subarray(0, length));
    };
    const onData = (chunk: Buffer): void => {
      if (at + chunk.length > length) return done(new ServeError('BAD_NPY', 'the body is longer than its Content-Length'));
      at += chunk.copy(buffer, at);
    };
    const onEnd = (): void => done(at === length ? undefined : new ServeError('BAD_NPY', 'the body is shorter than its Content-Length'));
    const onGone = (): void => done(new ServeError('CLIENT_GONE', 'client disconnected while sending the body'));
    req.on('data', onData).on('end', onEnd).on('error', onGone).on('close', onGone);
  });
}

/**
 * Free body buffers by size class, at most MAX_POOLED bytes of them; a buffer leased past that is
 * simply left to the garbage collector when released. Classes are quarter octaves from 64 KiB in 4 KiB
 * steps, so a body leaves under a fifth of its buffer unused (with powers of two, a 16 s clip, 1 MiB
 * and its header, took 2 MiB); 128 MiB holds 100 such clips in flight.
 */
class BodyPool {
  static readonly MIN = 64 * 1024;
  static readonly MAX_POOLED = 128 * 1024 * 1024;
  readonly #free = new Map<number, Buffer[]>();
  #pooled = 0;

  static sizeClass(length: number): number {
    if (length <= BodyPool.MIN) return BodyPool.MIN;
    const quarterOctave = 2 ** (Math.ceil(4 * Math.log2(length)) / 4);
    return Math.ceil(quarterOctave / 4096) * 4096;
  }

  lease(length: number): Buffer {
    const size = BodyPool.sizeClass(length);
    const reused = this.#free.get(size)?.pop();
    if (reused) {
      this.#pooled -= size;
      return reused;
    }
    // Its own ArrayBuffer, offset 0: the .npy data after np.save's 64-byte-aligned header is aligned.
    return Buffer.allocUnsafeSlow(size);
  }

  release(buffer: Buffer): void {
    if (this.#pooled + buffer.length > BodyPool.MAX_POOLED) return;
    const list = this.#free.get(buffer.length) ?? [];
    list.push(buffer);
    this.#free.set(buffer.length, list);
    this.#pooled += buffer.length;
  }
}

const pool = new BodyPool();

function tooLarge(size: number | undefined, limit: number): ServeError {
  const got = size === undefined ? 'more' : `${size} bytes`;
  return new ServeError('BODY_TOO_LARGE', `body is ${got}; MAX_BODY_BYTES allows ${limit} (about ${Math.floor(limit / 64000)} s of float32 audio)`);
}
