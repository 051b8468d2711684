// The composition root: backend → batcher → HTTP server (POST /raw, GET /stream), with metrics,
// readiness and an orderly stop.
// `main.ts` runs it from the environment; tests run it in-process on port 0. Everything a service
// uses is made here and handed to the parts that need it, so two services in one process share nothing.
import { SAMPLE_RATE } from './audio.js';
import type { Backend } from './backends/backend.js';
import { Batcher, type BatcherEvents } from './batcher.js';
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
  const windowMs = config.microBatchWindowMs ?? backend.windowMs;
  log.info(
    { backend: backend.info.name, model: backend.info.model, family: family.id, buckets: backend.buckets, windowMs, reason: backend.info.reason, samplePasses: passes.implementation },
    'backend chosen',
  );

  const preparer = family.startPreparer(passes);
  let listening: Listening | undefined;
  let streams: StreamEndpoint | undefined;
  try {
    // One second of silence: the clip that warms every bucket up and probes a failing backend.
    const second = await preparer.prepare(new Float32Array(SAMPLE_RATE));
    const batcher = new Batcher(
      backend,
      { windowMs, maxQueue: config.maxQueue, timeoutMs: config.requestTimeoutMs },
      {
        batch: ({ size, bucket, ok, error }) => {
          if (!ok) log.error({ err: error, size, bucket }, 'backend failed a batch');
        },
      },
    );
    const metrics = new Metrics(backend.info, family.id, {
      queueDepth: () => batcher.queueDepth,
      inFlight: () => batcher.inFlight,
      admission: () => batcher.admission(),
    });
    const readiness = new Readiness(3, () => batcher.submit(second));
    batcher.observe(metrics.batcherEvents);
    batcher.observe(readiness.events);
    batcher.observe(shedLog(log));
    const app = createApp({ config, passes, resampler, preparer, batcher, metrics, readiness, log });
    listening = await listen(app, config);
    streams = new StreamEndpoint(listening.server, { config, passes, preparer, batcher, metrics, readiness, log });
    log.info({ port: listening.port }, 'listening; warming up');
    const t0 = performance.now();
    const times = await warmUp(backend, second);
    batcher.seedBatchTimes(times);
    readiness.markWarm();
    const { limit } = batcher.admission();
    log.info(
      { seconds: (performance.now() - t0) / 1000, batchSeconds: Object.fromEntries(times), queueLimit: limit, requestTimeoutMs: config.requestTimeoutMs, maxQueue: config.maxQueue },
      'warm-up done; ready (admitting requests whose predicted answer fits in REQUEST_TIMEOUT_MS; batch times follow real batches from now on)',
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

const SHED_LOG_MS = 10_000;

/**
 * Logs refusals at admission: the first of a spell at once, then at most one line per SHED_LOG_MS
 * with the count since the last, so an overload is visible without a line per request.
 */
function shedLog(log: Logger): BatcherEvents {
  let last = -Infinity;
  let since = 0;
  return {
    refused: (decision, state) => {
      since++;
      const t = performance.now();
      if (t - last < SHED_LOG_MS) return;
      log.warn(
        { refused: since, reason: decision.reason, predictedMs: Math.round(decision.prediction.ms), waiting: state.waiting, running: state.running.length },
        `shedding load: ${decision.message}`,
      );
      last = t;
      since = 0;
    },
  };
}
