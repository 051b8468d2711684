// The composition root: backend → batcher → HTTP server, with metrics, readiness and an orderly stop.
// `main.ts` runs it from the environment; tests run it in-process on port 0.
import { SAMPLE_RATE } from './audio.js';
import type { Backend } from './backends/backend.js';
import { openBackend } from './backends/select.js';
import { warmUp } from './backends/warmup.js';
import { Batcher, combineEvents } from './batcher.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { Readiness } from './readiness.js';
import { useSamplePasses } from './samples.js';
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
  const passes = useSamplePasses(config.samplePasses);
  const backend = options.backend ?? (await openBackend(config, log));
  log.info(
    { backend: backend.info.name, model: backend.info.model, family: backend.family.id, buckets: backend.buckets, reason: backend.info.reason, samplePasses: passes.implementation },
    'backend chosen',
  );

  let batcher: Batcher | undefined;
  const probeClip = backend.family.prepare(new Float32Array(SAMPLE_RATE));
  const readiness = new Readiness(3, () => batcher!.submit(probeClip));
  const metrics = new Metrics(backend.info, backend.family.id, {
    queueDepth: () => batcher?.queueDepth ?? 0,
    inFlight: () => batcher?.inFlight ?? 0,
  });
  const maxBucket = backend.buckets[backend.buckets.length - 1]!;
  const fullRound = maxBucket * backend.maxInFlight;
  // Until warm-up has measured the backend, admit one full round of batches.
  batcher = new Batcher(
    backend,
    { windowMs: config.microBatchWindowMs, maxQueue: config.maxQueue ?? fullRound, timeoutMs: config.requestTimeoutMs },
    combineEvents(metrics.batcherEvents, readiness.events, {
      batch: ({ size, bucket, ok, error }) => {
        if (!ok) log.error({ err: error, size, bucket }, 'backend failed a batch');
      },
    }),
  );
  const prepare = (samples: Float32Array) => backend.family.prepare(samples);
  const app = createApp({ config, family: backend.family, prepare, batcher, metrics, readiness, log });
  let listening: Listening | undefined;
  try {
    listening = await listen(app, config);
    log.info({ port: listening.port }, 'listening; warming up');
    const t0 = performance.now();
    const times = await warmUp(backend);
    const clipsPerSecond = (maxBucket / times.get(maxBucket)!) * backend.maxInFlight;
    if (config.maxQueue === undefined) batcher.maxQueue = defaultMaxQueue(config.maxQueueDelayMs, clipsPerSecond, fullRound);
    readiness.markWarm();
    log.info(
      { seconds: (performance.now() - t0) / 1000, batchSeconds: Object.fromEntries(times), clipsPerSecond, maxQueue: batcher.maxQueue },
      config.maxQueue === undefined ? 'warm-up done; ready (queue limit: what the backend finishes in MAX_QUEUE_DELAY_MS)' : 'warm-up done; ready',
    );
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
        server.server.closeIdleConnections();
        await closed;
        await backend.close();
      })()),
  };
}

/**
 * A queue as long as the backend can work off in `delayMs`, and never shorter than one full round of
 * batches. It counts requests from admission, before their features exist, so preparing clips cannot
 * grow a hidden queue of its own. A count fixed from the buckets alone would be seconds of waiting on a
 * slow CPU model and needless refusals on a GPU; bounding the wait keeps accepted requests fast and
 * sheds the rest at once.
 */
export function defaultMaxQueue(delayMs: number, clipsPerSecond: number, fullRound: number): number {
  return Math.max(fullRound, Math.floor((clipsPerSecond * delayMs) / 1000));
}
