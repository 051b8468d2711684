// The composition root: backend → batcher → HTTP server (POST /raw, GET /stream), with metrics,
// readiness and an orderly stop.
// `main.ts` runs it from the environment; tests run it in-process on port 0. Everything a service
// uses is made here and handed to the parts that need it, so two services in one process share nothing.
import { SAMPLE_RATE } from './audio.js';
import type { Backend } from './backends/backend.js';
import { Batcher } from './batcher.js';
import type { Config } from './config.js';
import { samplePasses, type SamplePasses } from './lib/samples.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { Readiness } from './readiness.js';
import { Resampler } from './resample.js';
import { createApp, listen, type Listening } from './server.js';
import { openBackend } from './startup/select.js';
import { StreamEndpoint } from './stream/endpoint.js';
import { warmUp } from './startup/warmup.js';

export interface Service {
  readonly port: number;
  readonly backend: Backend;
  readonly batcher: Batcher;
  readonly readiness: Readiness;
  readonly metrics: Metrics;
  /** The per-sample passes this service runs (SAMPLE_PASSES). */
  readonly passes: SamplePasses;
  /** Stops accepting, answers everything accepted, closes the backend. */
  stop(): Promise<void>;
}

export interface ServiceOptions {
  /** A backend already open (tests); otherwise chosen from the config. */
  backend?: Backend;
}

export async function startService(config: Config, log: Logger, options: ServiceOptions = {}): Promise<Service> {
  const passes = samplePasses(config.samplePasses);
  const resampler = await Resampler.create();
  const backend = options.backend ?? (await openBackend(config, log));
  const { family } = backend;
  log.info(
    { backend: backend.info.name, model: backend.info.model, family: family.id, buckets: backend.buckets, reason: backend.info.reason, samplePasses: passes.implementation },
    'backend chosen',
  );

  const preparer = family.startPreparer(passes);
  let listening: Listening | undefined;
  let streams: StreamEndpoint | undefined;
  try {
    // One second of silence: the clip that warms every bucket up and probes a failing backend.
    const second = await preparer.prepare(new Float32Array(SAMPLE_RATE));
    const maxBucket = backend.buckets[backend.buckets.length - 1]!;
    const fullRound = maxBucket * backend.maxInFlight;
    // Until warm-up has measured the backend, admit one full round of batches.
    const batcher = new Batcher(
      backend,
      { windowMs: config.microBatchWindowMs, maxQueue: config.maxQueue ?? fullRound, timeoutMs: config.requestTimeoutMs },
      {
        batch: ({ size, bucket, ok, error }) => {
          if (!ok) log.error({ err: error, size, bucket }, 'backend failed a batch');
        },
      },
    );
    const metrics = new Metrics(backend.info, family.id, { queueDepth: () => batcher.queueDepth, inFlight: () => batcher.inFlight });
    const readiness = new Readiness(3, () => batcher.submit(second));
    batcher.observe(metrics.batcherEvents);
    batcher.observe(readiness.events);
    const app = createApp({ config, passes, resampler, preparer, batcher, metrics, readiness, log });
    listening = await listen(app, config);
    streams = new StreamEndpoint(listening.server, { config, passes, preparer, batcher, metrics, readiness, log });
    log.info({ port: listening.port }, 'listening; warming up');
    const t0 = performance.now();
    const times = await warmUp(backend, second);
    const clipsPerSecond = (maxBucket / times.get(maxBucket)!) * backend.maxInFlight;
    if (config.maxQueue === undefined) batcher.maxQueue = defaultMaxQueue(config.maxQueueDelayMs, clipsPerSecond, fullRound);
    readiness.markWarm();
    log.info(
      { seconds: (performance.now() - t0) / 1000, batchSeconds: Object.fromEntries(times), clipsPerSecond, maxQueue: batcher.maxQueue },
      config.maxQueue === undefined ? 'warm-up done; ready (queue limit: what the backend finishes in MAX_QUEUE_DELAY_MS)' : 'warm-up done; ready',
    );

    const server = listening;
    const endpoint = streams;
    let stopping: Promise<void> | undefined;
    return {
      port: server.port,
      backend,
      batcher,
      readiness,
      metrics,
      passes,
      stop: () =>
        (stopping ??= (async () => {
          readiness.markDraining();
          const closed = server.close();
          await batcher.drain();
          await endpoint.close();
          server.server.closeIdleConnections();
          await closed;
          await preparer.close();
          await backend.close();
        })()),
    };
  } catch (error) {
    await streams?.close();
    await listening?.close();
    await preparer.close();
    await backend.close();
    throw error;
  }
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
