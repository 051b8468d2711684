// `Authorization: Key <secret>` as Pipecat's HttpSmartTurnAnalyzer sends it (`Bearer` is accepted too).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { ServeError } from '../errors.js';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Constant-time check of the presented key. Both sides are hashed first so that neither the key's
 * length nor its prefix can be learned from timing. Undefined key: the route is open.
 */
export function requireKey(key: string | undefined, variable: string): Middleware {
  if (key === undefined) return (_ctx, next) => next();
  const expected = digest(key);
  return (ctx, next) => {
    const header = ctx.get('authorization');
    const match = /^(?:Key|Bearer)\s+(.+)$/i.exec(header.trim());
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      throw new ServeError(
        'UNAUTHORIZED',
        header
          ? `the key in the Authorization header does not match ${variable}`
          : `${ctx.path} needs the header "Authorization: Key <${variable}>"`,
      );
    }
    return next();
  };
}
