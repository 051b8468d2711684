// The composition root: backend → batcher → HTTP server, with metrics, readiness and an orderly stop.
// `main.ts` runs it from the environment; tests run it in-process on port 0.
import { SAMPLE_RATE } from './audio.js';
import type { Backend } from './backends/backend.js';
import { openBackend } from './backends/select.js';
import { warmUp } from './backends/warmup.js';
import { Batcher, combineEvents, type BatcherEvents } from './batcher.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { FeaturePool } from './features/pool.js';
import { Metrics } from './metrics.js';
import { prepareOnPool } from './model/v3.js';
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
    admission: () => batcher!.admission(),
  });
  batcher = new Batcher(
    backend,
    { windowMs: config.microBatchWindowMs, maxQueue: config.maxQueue, timeoutMs: config.requestTimeoutMs },
    combineEvents(metrics.batcherEvents, readiness.events, shedLog(log), {
      batch: ({ size, bucket, ok, error }) => {
        if (!ok) log.error({ err: error, size, bucket }, 'backend failed a batch');
      },
    }),
  );
  // Whisper features cost ~15-20 ms a clip on this project's CPUs: on a worker thread they no longer
  // stall HTTP and batch formation (longest event-loop gap 33 ms in line, 5-7 ms on the pool).
  const pool = backend.family.id === 'smart-turn-v3' ? new FeaturePool(1) : undefined;
  const prepare = pool ? (samples: Float32Array) => prepareOnPool(pool, samples) : (samples: Float32Array) => backend.family.prepare(samples);
  const app = createApp({ config, family: backend.family, prepare, batcher, metrics, readiness, log });
  let listening: Listening | undefined;
  try {
    listening = await listen(app, config);
    log.info({ port: listening.port }, 'listening; warming up');
    const t0 = performance.now();
    const times = await warmUp(backend);
    batcher.seedBatchTimes(times);
    readiness.markWarm();
    const { limit } = batcher.admission();
    log.info(
      { seconds: (performance.now() - t0) / 1000, batchSeconds: Object.fromEntries(times), queueLimit: limit, requestTimeoutMs: config.requestTimeoutMs, maxQueue: config.maxQueue },
      'warm-up done; ready (admitting requests whose predicted answer fits in REQUEST_TIMEOUT_MS; batch times follow real batches from now on)',
    );
  } catch (error) {
    await listening?.close();
    await pool?.close();
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
        await pool?.close();
        await backend.close();
      })()),
  };
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
