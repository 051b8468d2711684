// `Authorization: Key <secret>` as Pipecat's HttpSmartTurnAnalyzer sends it (`Bearer` is accepted too),
// on requests (Koa middleware) and on WebSocket upgrades (before the upgrade).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { ServeError } from '../errors.js';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * A check of the `Authorization` header presented for `path`: throws ServeError UNAUTHORIZED unless it
 * carries `key`. Constant time: both sides are hashed first so that neither the key's length nor its
 * prefix can be learned from timing. Undefined key: everything passes.
 */
export function keyCheck(key: string | undefined, variable: string): (header: string, path: string) => void {
  if (key === undefined) return () => undefined;
  const expected = digest(key);
  return (header, path) => {
    const match = /^(?:Key|Bearer)\s+(.+)$/i.exec(header.trim());
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      throw new ServeError(
        'UNAUTHORIZED',
        header ? `the key in the Authorization header does not match ${variable}` : `${path} needs the header "Authorization: Key <${variable}>"`,
      );
    }
  };
}

/** Koa middleware over `keyCheck`: the route is open when `key` is undefined. */
export function requireKey(key: string | undefined, variable: string): Middleware {
  if (key === undefined) return (_ctx, next) => next();
  const check = keyCheck(key, variable);
  return (ctx, next) => {
    check(ctx.get('authorization'), ctx.path);
    return next();
  };
}
