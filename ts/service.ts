// The composition root: backend → batcher → HTTP server, with metrics, readiness and an orderly stop.
// `main.ts` runs it from the environment; tests run it in-process on port 0.
import type { Backend } from './backends/backend.js';
import { openBackend } from './backends/select.js';
import { warmUp } from './backends/warmup.js';
import { Batcher, combineEvents } from './batcher.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { Readiness } from './readiness.js';
import { createApp, listen, type Listening } from './server.js';

export interface Service {
  readonly port: number;
  readonly backend: Backend;
  readonly batcher: Batcher;
  readonly readiness: Readiness;
  readonly metrics: Metrics;
  /** Stops accepting, answers everything accepted, closes the backend. */
  stop(): Promise<void>;
}

export interface ServiceOptions {
  /** A backend already open (tests); otherwise chosen from the config. */
  backend?: Backend;
}

export async function startService(config: Config, log: Logger, options: ServiceOptions = {}): Promise<Service> {
  const backend = options.backend ?? (await openBackend(config, log));
  log.info({ backend: backend.info.name, model: backend.info.model, family: backend.family.id, buckets: backend.buckets, reason: backend.info.reason }, 'backend chosen');

  const readiness = new Readiness();
  let batcher: Batcher | undefined;
  const metrics = new Metrics(backend.info, backend.family.id, {
    queueDepth: () => batcher?.queueDepth ?? 0,
    inFlight: () => batcher?.inFlight ?? 0,
  });
  const maxBucket = backend.buckets[backend.buckets.length - 1]!;
  const maxQueue = config.maxQueue ?? defaultMaxQueue(maxBucket, backend.maxInFlight);
  batcher = new Batcher(
    backend,
    { windowMs: config.microBatchWindowMs, maxQueue, timeoutMs: config.requestTimeoutMs },
    combineEvents(metrics.batcherEvents, readiness.events, {
      batch: ({ size, bucket, ok, error }) => {
        if (!ok) log.error({ err: error, size, bucket }, 'backend failed a batch');
      },
    }),
  );
  const app = createApp({ config, family: backend.family, batcher, metrics, readiness, log });
  let listening: Listening | undefined;
  try {
    listening = await listen(app, config);
    log.info({ port: listening.port, maxQueue }, 'listening; warming up');
    const t0 = performance.now();
    await warmUp(backend);
    readiness.markWarm();
    log.info({ seconds: (performance.now() - t0) / 1000 }, 'warm-up done; ready');
  } catch (error) {
    await listening?.close();
    await backend.close();
    throw error;
  }

  const server = listening;
  const ready = batcher;
  let stopping: Promise<void> | undefined;
  return {
    port: server.port,
    backend,
    batcher: ready,
    readiness,
    metrics,
    stop: () =>
      (stopping ??= (async () => {
        readiness.markDraining();
        const closed = server.close();
        await ready.drain();
        await closed;
        await backend.close();
      })()),
  };
}

/**
 * Enough queued work for a few full batches per runner: more would only wait past a client's
 * 3-second patience; less would refuse bursts the backend could absorb.
 */
export function defaultMaxQueue(maxBucket: number, maxInFlight: number): number {
  return 4 * maxBucket * maxInFlight;
}
