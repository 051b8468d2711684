// The HTTP face: Pipecat's HttpSmartTurnAnalyzer wire format on POST /raw, plus health, readiness and
// metrics (GET /stream's WebSocket upgrades are stream/endpoint.ts's). A request flows
// server → npy → resample → predict (model family → batcher → backend).
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa, { type Context, type Middleware } from 'koa';
import type { Batcher } from './batcher.js';
import type { Config } from './config.js';
import { ServeError } from './errors.js';
import { requireKey } from './http/auth.js';
import { answerThenDrain, readAudioBody } from './http/body.js';
import type { SamplePasses } from './lib/samples.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Preparer } from './model/family.js';
import { SAMPLE_RATE } from './audio.js';
import { decodeNpy } from './npy.js';
import { parseSampleRate, type Resampler, type SampleRate } from './resample.js';
import { predict } from './predict.js';
import type { Readiness } from './readiness.js';

export interface ServerDeps {
  config: Config;
  /** The service's sample passes: the .npy finite check runs on them. */
  passes: SamplePasses;
  resampler: Resampler;
  /** The model family's way of turning 16 kHz audio into a clip. */
  preparer: Preparer;
  batcher: Batcher;
  metrics: Metrics;
  readiness: Readiness;
  log: Logger;
}

/** What a request leaves behind for its log line. */
interface RequestState {
  id: string;
  arrived: number;
  route: string;
  samples?: number;
  batchSize?: number;
  bucket?: number;
  queueWait?: number;
  inference?: number;
  errorCode?: string;
}

const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

export function createApp(deps: ServerDeps): Koa {
  const { config, log, metrics } = deps;
  const app = new Koa();
  app.silent = true; // errors are answered and logged by `answerErrors`

  const router = new Router();
  router.get('/health', (ctx) => {
    ctx.body = { ok: true };
  });
  router.get('/ready', (ctx) => {
    const state = deps.readiness.check();
    ctx.status = state.ready ? 200 : 503;
    ctx.body = state;
  });
  router.get('/metrics', requireKey(config.metricsAuthKey, 'METRICS_AUTH_KEY'), async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  router.post('/raw', requireKey(config.authKey, 'AUTH_KEY'), rawRoute(deps));
  // WebSocket upgrades to /stream never reach Koa (stream/endpoint.ts takes them); a plain GET does.
  router.get('/stream', (ctx) => {
    ctx.set('Upgrade', 'websocket');
    throw new ServeError('UPGRADE_REQUIRED', '/stream is a WebSocket: connect with a WebSocket client (Connection: Upgrade, Upgrade: websocket)');
  });

  app.use(observe(log, metrics));
  app.use(async (ctx, next) => {
    await next();
    // Kept-alive sockets would hold a draining server open until their idle timeout.
    if (deps.readiness.draining) ctx.set('Connection', 'close');
  });
  app.use(answerErrors(log));
  app.use(router.routes());
  app.use((ctx) => {
    const allowed = router.stack.filter((layer) => layer.match(ctx.path)).flatMap((layer) => layer.methods);
    if (allowed.length > 0) {
      ctx.set('Allow', allowed.join(', '));
      throw new ServeError('METHOD_NOT_ALLOWED', `${ctx.path} does not take ${ctx.method}; allowed: ${allowed.join(', ')}`);
    }
    throw new ServeError('NOT_FOUND', `no route ${ctx.method} ${ctx.path}; the model answers POST /raw`);
  });
  return app;
}

function rawRoute(deps: ServerDeps): Middleware {
  const { config, passes, resampler, preparer } = deps;
  return async (ctx: Context) => {
    const state = ctx.state as RequestState;
    const body = await readAudioBody(ctx, config.maxBodyBytes);
    const decoded = decodeNpy(body, passes).samples;
    state.samples = decoded.length;
    const rate = declaredRate(ctx);

    // A client that goes away before its batch runs (while its features are computed, or while queued)
    // must not cost a model run.
    const gone = new AbortController();
    const onClose = (): void => {
      if (!ctx.res.writableFinished) gone.abort();
    };
    ctx.res.once('close', onClose);
    try {
      const { answer, result } = await predict(deps, () => to16k(resampler, decoded, rate, preparer.windowSamples), state.arrived, gone.signal, 'raw');
      Object.assign(state, {
        batchSize: result.batchSize,
        bucket: result.bucket,
        queueWait: result.queueWait,
        inference: result.inferenceTime,
      });
      ctx.body = answer;
    } finally {
      ctx.res.off('close', onClose);
    }
  };
}

/**
 * The rate a client declares with `?sample_rate=` or `X-Sample-Rate` (Pipecat sends its pipeline's rate
 * without saying which; a client that knows it is not 16 kHz can say so). Undefined: 16 kHz.
 */
function declaredRate(ctx: Context): SampleRate | undefined {
  const raw = (ctx.query['sample_rate'] as string | undefined) ?? (ctx.get('x-sample-rate') || undefined);
  return raw === undefined ? undefined : parseSampleRate(raw);
}

/** 16 kHz audio for the model. Only the end the model will see is resampled, bounding the cost. */
function to16k(resampler: Resampler, samples: Float32Array, rate: SampleRate | undefined, windowSamples: number): Float32Array {
  if (rate === undefined || rate === SAMPLE_RATE) return samples;
  // A few extra input samples keep the resampler's filter warm at the window's start.
  const needed = Math.ceil(((windowSamples + 64) * rate) / SAMPLE_RATE);
  return resampler.to16k(samples.length > needed ? samples.subarray(samples.length - needed) : samples, rate);
}

/** Request id, one log line and the request metrics per request, whatever its outcome. */
function observe(log: Logger, metrics: Metrics): Middleware {
  return async (ctx, next) => {
    const claimed = ctx.get('x-request-id');
    const state: RequestState = {
      id: REQUEST_ID.test(claimed) ? claimed : randomUUID(),
      arrived: performance.now(),
      route: 'other',
    };
    ctx.state = state;
    ctx.set('X-Request-Id', state.id);
    try {
      await next();
    } finally {
      state.route = (ctx as Context & { routerPath?: string }).routerPath ?? (ctx as { _matchedRoute?: string })._matchedRoute ?? 'other';
      const seconds = (performance.now() - state.arrived) / 1000;
      metrics.observeRequest(state.route, ctx.status, seconds);
      const line = {
        id: state.id,
        method: ctx.method,
        path: ctx.path,
        status: ctx.status,
        samples: state.samples,
        batchSize: state.batchSize,
        bucket: state.bucket,
        queueWait: state.queueWait,
        inference: state.inference,
        total: seconds,
        error: state.errorCode,
      };
      if (state.route === '/health' || state.route === '/metrics' || state.route === '/ready') log.debug(line, 'request');
      else log.info(line, 'request');
    }
  };
}

/** The one place a thrown error becomes what a client sees. */
function answerErrors(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const serve =
        error instanceof ServeError ? error : new ServeError('INTERNAL', 'internal server error; the request was not processed', { cause: error });
      if (serve.code === 'INTERNAL' || serve.code === 'BACKEND_FAILED') {
        log.error({ id: (ctx.state as RequestState).id, err: serve.cause ?? error }, serve.message);
      }
      (ctx.state as RequestState).errorCode = serve.code;
      ctx.status = serve.status;
      ctx.body = { error: { code: serve.code, message: serve.message } };
      if (serve.retryAfter !== undefined) ctx.set('Retry-After', String(serve.retryAfter));
      // An oversized body may still be arriving: answer now, discard the rest (bounded), then close.
      if (serve.code === 'BODY_TOO_LARGE') answerThenDrain(ctx);
    }
  };
}

export interface Listening {
  server: http.Server;
  port: number;
  /** Stops accepting connections; resolves once every open one has closed. */
  close(): Promise<void>;
}

/** An HTTP server with timeouts against slow clients and a cap on connections. */
export function listen(app: Koa, config: Config, port = config.port, host = config.host): Promise<Listening> {
  const server = http.createServer(
    {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.bodyTimeoutMs,
      keepAliveTimeout: 5000,
      // Node checks those two timeouts on this interval (default 30 s): check often enough that they hold.
      connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs, config.bodyTimeoutMs),
    },
    app.callback(),
  );
  server.maxConnections = config.maxConnections;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}
