// Prometheus metrics. One registry per server instance (tests run several in one process); the
// batcher reports through `batcherEvents`, the HTTP layer through `observeRequest`.
import client from 'prom-client';
import type { BackendInfo } from './backends/backend.js';
import type { AdmissionSnapshot, BatcherEvents } from './batcher.js';

/** How a prediction reached the server: POST /raw, or a predict message on GET /stream. */
export type Transport = 'raw' | 'stream';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface MetricsSources {
  queueDepth(): number;
  inFlight(): number;
  admission(): AdmissionSnapshot;
}

export class Metrics {
  readonly registry = new client.Registry();
  readonly #requests: client.Counter<'route' | 'status'>;
  readonly #total: client.Histogram<'route'>;
  readonly #queueWait: client.Histogram;
  readonly #inference: client.Histogram;
  readonly #batchSize: client.Histogram;
  readonly #bucket: client.Counter<'bucket'>;
  readonly #rejected: client.Counter<'reason'>;
  readonly #failures: client.Counter;
  readonly #predictions: client.Counter<'transport'>;
  readonly #streams: client.Gauge;
  readonly #streamAudio: client.Counter;

  constructor(backend: BackendInfo, family: string, sources: MetricsSources) {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });
    this.#requests = new client.Counter({
      name: 'smart_turn_requests_total',
      help: 'HTTP requests answered, by route and status',
      labelNames: ['route', 'status'],
      registers,
    });
    this.#total = new client.Histogram({
      name: 'smart_turn_request_duration_seconds',
      help: 'From request arrival to response, by route',
      labelNames: ['route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#queueWait = new client.Histogram({
      name: 'smart_turn_queue_wait_seconds',
      help: 'From a request entering the batch queue to its batch being dispatched',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#inference = new client.Histogram({
      name: 'smart_turn_inference_seconds',
      help: 'Backend time per batch',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#batchSize = new client.Histogram({
      name: 'smart_turn_batch_size',
      help: 'Requests per dispatched batch',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    });
    this.#bucket = new client.Counter({
      name: 'smart_turn_batches_total',
      help: 'Batches run, by the bucket (padded batch size) they ran as',
      labelNames: ['bucket'],
      registers,
    });
    this.#rejected = new client.Counter({
      name: 'smart_turn_rejected_total',
      help: 'Requests refused or dropped before reaching the model, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.#failures = new client.Counter({
      name: 'smart_turn_backend_failures_total',
      help: 'Batches the backend failed',
      registers,
    });
    this.#predictions = new client.Counter({
      name: 'smart_turn_predictions_total',
      help: 'Predictions answered with a probability, by transport (raw: POST /raw, stream: GET /stream)',
      labelNames: ['transport'],
      registers,
    });
    for (const transport of ['raw', 'stream'] as const) this.#predictions.inc({ transport }, 0);
    this.#streams = new client.Gauge({
      name: 'smart_turn_streams_active',
      help: 'Open GET /stream connections',
      registers,
    });
    this.#streamAudio = new client.Counter({
      name: 'smart_turn_stream_audio_seconds_total',
      help: 'Seconds of audio received on GET /stream connections (at the rate each declared)',
      registers,
    });
    new client.Gauge({
      name: 'smart_turn_queue_depth',
      help: 'Requests waiting for a batch',
      registers,
      collect() {
        this.set(sources.queueDepth());
      },
    });
    new client.Gauge({
      name: 'smart_turn_batches_in_flight',
      help: 'Batches the backend is running',
      registers,
      collect() {
        this.set(sources.inFlight());
      },
    });
    new client.Gauge({
      name: 'smart_turn_admission_limit',
      help: 'Requests that may wait for a batch before the next is refused: what the backend answers within REQUEST_TIMEOUT_MS (less its margin) at the measured batch times, or MAX_QUEUE if lower',
      registers,
      collect() {
        this.set(sources.admission().limit);
      },
    });
    new client.Gauge({
      name: 'smart_turn_predicted_answer_seconds',
      help: 'When a request arriving now would be answered, predicted from the queue and the measured batch times',
      registers,
      collect() {
        this.set(sources.admission().predictedMs / 1000);
      },
    });
    new client.Gauge({
      name: 'smart_turn_batch_seconds_estimate',
      help: 'What a full batch of each bucket takes, as measured over recent batches (the admission rule uses it)',
      labelNames: ['bucket'],
      registers,
      collect() {
        for (const [bucket, seconds] of sources.admission().batchSeconds) this.set({ bucket: String(bucket) }, seconds);
      },
    });
    new client.Gauge({
      name: 'smart_turn_backend_info',
      help: 'The backend and model being served (value is always 1)',
      labelNames: ['backend', 'model', 'family'],
      registers,
    }).set({ backend: backend.name, model: backend.model, family }, 1);
  }

  readonly batcherEvents: BatcherEvents = {
    batch: ({ size, bucket, seconds, ok }) => {
      if (!ok) {
        this.#failures.inc();
        return;
      }
      this.#inference.observe(seconds);
      this.#batchSize.observe(size);
      this.#bucket.inc({ bucket: String(bucket) });
    },
    rejected: (reason) => this.#rejected.inc({ reason }),
    dispatched: (wait) => this.#queueWait.observe(wait),
  };

  observeRequest(route: string, status: number, seconds: number): void {
    this.#requests.inc({ route, status: String(status) });
    this.#total.observe({ route }, seconds);
  }

  prediction(transport: Transport): void {
    this.#predictions.inc({ transport });
  }

  /** A stream opened (+1) or closed (-1). */
  streams(change: 1 | -1): void {
    this.#streams.inc(change);
  }

  streamAudio(seconds: number): void {
    this.#streamAudio.inc(seconds);
  }
}
