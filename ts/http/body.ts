// Reads a request body under a byte limit. The limit is enforced from Content-Length before a byte is
// buffered, and again while streaming (chunked bodies), so a large upload is refused, not held.
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
  try {
    return await getRawBody(ctx.req, { limit, length: declared || undefined });
  } catch (error) {
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') throw tooLarge(undefined, limit);
    if (type === 'request.aborted') throw new ServeError('CLIENT_GONE', 'client disconnected while sending the body');
    if (type === 'request.size.invalid') {
      throw new ServeError('BAD_NPY', 'the body is shorter or longer than its Content-Length');
    }
    throw error;
  }
}

function tooLarge(size: number | undefined, limit: number): ServeError {
  const got = size === undefined ? 'more' : `${size} bytes`;
  return new ServeError('BODY_TOO_LARGE', `body is ${got}; MAX_BODY_BYTES allows ${limit} (about ${Math.floor(limit / 64000)} s of float32 audio)`);
}
