// Windowed micro-batching, after Triton's dynamic batcher: admission by deadline (the policy, as data,
// in admission.ts), batch formation (window or full largest bucket), and hand-off of a formed batch to
// the backend. Every submitted request settles exactly once.
import { admit, BatchTimes, DEFAULT_MARGIN, predict, queueLimit, type AdmissionPolicy, type BatchShape, type Decision, type QueueState } from './admission.js';
import type { Backend } from './backends/backend.js';
import { ServeError } from './errors.js';
import type { Clip } from './model/family.js';

export interface BatcherOptions {
  /** How long the first request of a batch waits for company. */
  windowMs: number;
  /** An operator's cap on requests waiting for a batch (MAX_QUEUE); by default only the deadline limits. */
  maxQueue?: number | undefined;
  /**
   * An answer is due this long after admission (REQUEST_TIMEOUT_MS): a request is admitted only if its
   * predicted answer fits, and one whose batch could no longer finish in time is answered 503.
   */
  timeoutMs: number;
  /** Share of the deadline the prediction must leave free (default DEFAULT_MARGIN). */
  margin?: number;
}

export interface BatchResult {
  probability: number;
  /** Seconds the backend took for the batch this request rode in. */
  inferenceTime: number;
  /** Seconds from submit to the batch's dispatch. */
  queueWait: number;
  /** Requests in the batch, and the bucket it was run as. */
  batchSize: number;
  bucket: number;
}

export type Rejection = 'queue_full' | 'expired' | 'aborted' | 'shutting_down';

/** What the batcher reports as it works; metrics, readiness and logs observe it. */
export interface BatcherEvents {
  batch?(info: { size: number; bucket: number; seconds: number; ok: boolean; error?: unknown }): void;
  rejected?(reason: Rejection): void;
  /** A request refused at admission, with the prediction that refused it. */
  refused?(decision: Extract<Decision, { admit: false }>, state: QueueState): void;
  dispatched?(queueWaitSeconds: number): void;
}

/** The admission state, for metrics and logs. */
export interface AdmissionSnapshot {
  /** Requests that may wait, with idle slots, before the next is refused. */
  limit: number;
  /** When a request arriving now would be answered. */
  predictedMs: number;
  /** Seconds a full batch of each bucket takes, as measured. */
  batchSeconds: Array<[bucket: number, seconds: number]>;
}

/** A place in the queue, held while a request is prepared; use it exactly once. */
export interface Reservation {
  submit(clip: Clip, signal?: AbortSignal): Promise<BatchResult>;
  cancel(): void;
}

interface Pending {
  clip: Clip;
  arrived: number;
  /** When its answer is due (performance.now() ms): admission plus the deadline. */
  answerBy: number;
  /** Each settles the request's promise; `settled` turns true at the first. */
  resolve(result: BatchResult): void;
  reject(error: Error): void;
  settled: boolean;
  /** Answers it at answerBy, queued or running, unless it has its answer by then. */
  timer: NodeJS.Timeout;
  detach(): void;
}

const now = (): number => performance.now();

export class Batcher {
  readonly #backend: Backend;
  readonly #policy: AdmissionPolicy;
  readonly #shape: BatchShape;
  readonly #times = new BatchTimes();
  readonly #listeners: BatcherEvents[];
  readonly #events: BatcherEvents;
  readonly #maxBucket: number;
  #queue: Pending[] = [];
  /** Running batches: when each started and what it was expected to take. */
  readonly #running = new Set<{ started: number; seconds: number }>();
  #timer: NodeJS.Timeout | undefined;
  #closing = false;
  #reserved = 0;
  #idle: Array<() => void> = [];

  constructor(backend: Backend, options: BatcherOptions, events: BatcherEvents = {}) {
    if (backend.buckets.length === 0) throw new Error('backend has no batch buckets');
    this.#backend = backend;
    this.#policy = { deadlineMs: options.timeoutMs, margin: options.margin ?? DEFAULT_MARGIN, maxQueue: options.maxQueue };
    this.#shape = { buckets: backend.buckets, slots: backend.maxInFlight, windowMs: options.windowMs };
    this.#listeners = [events];
    this.#events = fanOut(this.#listeners);
    this.#maxBucket = backend.buckets[backend.buckets.length - 1]!;
  }

  /** Reports to `listener` too from now on: what watches the batcher is made after it. */
  observe(listener: BatcherEvents): void {
    this.#listeners.push(listener);
  }

  get policy(): AdmissionPolicy {
    return this.#policy;
  }

  /** Seeds the batch times with warm-up's first runs, until real batches replace them. */
  seedBatchTimes(times: ReadonlyMap<number, number>): void {
    for (const [bucket, seconds] of times) this.#times.seed(bucket, seconds);
  }

  admission(): AdmissionSnapshot {
    return {
      limit: queueLimit(this.#shape, this.#times, this.#policy),
      predictedMs: predict(this.#state(), this.#shape, this.#times).ms,
      batchSeconds: this.#times.entries(),
    };
  }

  #state(): QueueState {
    const t = now();
    return { waiting: this.#queue.length + this.#reserved, running: [...this.#running].map((r) => Math.max(0, r.seconds - (t - r.started) / 1000)) };
  }

  get queueDepth(): number {
    return this.#queue.length;
  }

  get inFlight(): number {
    return this.#running.size;
  }

  /** Queues a clip; resolves with its probability, or rejects with a ServeError. */
  submit(clip: Clip, signal?: AbortSignal): Promise<BatchResult> {
    let reservation: Reservation;
    try {
      reservation = this.reserve();
    } catch (error) {
      return Promise.reject(error);
    }
    return reservation.submit(clip, signal);
  }

  /**
   * Admits a request before its clip exists, so that the work of preparing it (features, resampling)
   * is only done for requests that will get a place: a reservation counts as waiting from now until it
   * is submitted or cancelled, and drain() waits for it. Throws QUEUE_FULL or SHUTTING_DOWN.
   */
  reserve(): Reservation {
    if (this.#closing) {
      this.#events.rejected?.('shutting_down');
      throw new ServeError('SHUTTING_DOWN', 'the server is shutting down; retry on another replica', { retryAfter: 1 });
    }
    const state = this.#state();
    const decision = admit(state, this.#shape, this.#times, this.#policy);
    if (!decision.admit) {
      this.#events.rejected?.('queue_full');
      this.#events.refused?.(decision, state);
      throw new ServeError('QUEUE_FULL', decision.message, { retryAfter: 1 });
    }
    const answerBy = now() + this.#policy.deadlineMs;
    this.#reserved++;
    let open = true;
    const close = (): boolean => {
      if (!open) return false;
      open = false;
      this.#reserved--;
      return true;
    };
    return {
      submit: (clip, signal) => (close() ? this.#enqueue(clip, answerBy, signal) : Promise.reject(new Error('reservation already used'))),
      cancel: () => {
        if (close()) this.#schedule();
      },
    };
  }

  /** `answerBy`: when its answer is due (performance.now() ms). */
  #enqueue(clip: Clip, answerBy: number, signal?: AbortSignal): Promise<BatchResult> {
    if (signal?.aborted) {
      this.#events.rejected?.('aborted');
      this.#schedule();
      return Promise.reject(new ServeError('CLIENT_GONE', 'client disconnected before its request was queued'));
    }
    return new Promise<BatchResult>((resolve, reject) => {
      const arrived = now();
      const pending: Pending = {
        clip,
        arrived,
        answerBy,
        settled: false,
        resolve: (result) => {
          pending.settled = true;
          resolve(result);
        },
        reject: (error) => {
          pending.settled = true;
          reject(error);
        },
        timer: setTimeout(() => this.#drop(pending, 'expired', this.#late('it was still waiting for a batch')), Math.max(0, answerBy - arrived)),
        detach: () => undefined,
      };
      if (signal) {
        const onAbort = (): void =>
          this.#drop(pending, 'aborted', new ServeError('CLIENT_GONE', 'client disconnected while its request was queued'));
        signal.addEventListener('abort', onAbort, { once: true });
        pending.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.#queue.push(pending);
      this.#schedule();
    });
  }

  /** Stops accepting, runs everything already queued, and resolves once nothing is queued or running. */
  drain(): Promise<void> {
    this.#closing = true;
    this.#schedule();
    if (this.#queue.length === 0 && this.#running.size === 0 && this.#reserved === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #late(why: string): ServeError {
    return new ServeError('DEADLINE_EXCEEDED', `request not answered within REQUEST_TIMEOUT_MS=${this.#policy.deadlineMs} ms (${why}); the server is overloaded, retry shortly`, { retryAfter: 1 });
  }

  #drop(pending: Pending, reason: Rejection, error: ServeError): void {
    const index = this.#queue.indexOf(pending);
    if (index < 0) return; // already dispatched: the batch will answer it
    this.#queue.splice(index, 1);
    clearTimeout(pending.timer);
    pending.detach();
    this.#events.rejected?.(reason);
    pending.reject(error);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#queue.length === 0) {
      this.#clearTimer();
      if (this.#running.size === 0 && this.#reserved === 0) this.#idle.splice(0).forEach((resolve) => resolve());
      return;
    }
    if (this.#running.size >= this.#backend.maxInFlight) return; // a completing batch calls back here
    const wait = this.#queue[0]!.arrived + this.#shape.windowMs - now();
    if (this.#closing || this.#queue.length >= this.#maxBucket || wait <= 0) {
      this.#clearTimer();
      this.#dispatch();
      this.#schedule(); // more than one batch may be ready and allowed
      return;
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#schedule();
    }, wait);
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #dispatch(): void {
    const started = now();
    const bucketFor = (n: number): number => this.#backend.buckets.find((b) => b >= n)!;
    // Requests that a batch of this size would typically answer past their deadline are answered now
    // and never computed: running them would only delay the requests behind.
    const taken = this.#queue.splice(0, this.#maxBucket);
    const finish = started + this.#times.of(bucketFor(taken.length), 0) * 1000;
    const requests = taken.filter((r) => r.answerBy >= finish);
    for (const r of taken) {
      if (r.answerBy >= finish) continue;
      clearTimeout(r.timer);
      r.detach();
      this.#events.rejected?.('expired');
      r.reject(this.#late('its batch could not have finished in time'));
    }
    if (requests.length === 0) return;
    const bucket = bucketFor(requests.length);
    for (const r of requests) {
      clearTimeout(r.timer);
      r.detach();
      // The deadline holds while the batch runs: a batch slower than predicted does not make it late.
      r.timer = setTimeout(() => {
        if (r.settled) return;
        this.#events.rejected?.('expired');
        r.reject(this.#late('its batch ran past it'));
      }, Math.max(0, r.answerBy - started));
      this.#events.dispatched?.((started - r.arrived) / 1000);
    }
    const batch = this.#backend.lease(bucket);
    try {
      requests.forEach((r, slot) => r.clip.write(batch, slot));
    } catch (error) {
      this.#backend.release(batch);
      this.#fail(requests, bucket, 0, error);
      return;
    }
    const t0 = now();
    const running = { started: t0, seconds: this.#times.of(bucket) };
    this.#running.add(running);
    this.#backend.infer(batch, requests.length).then(
      (probabilities) => {
        const seconds = (now() - t0) / 1000;
        this.#times.observe(bucket, requests.length, seconds);
        this.#events.batch?.({ size: requests.length, bucket, seconds, ok: true });
        requests.forEach((r, i) =>
          r.settled || r.resolve({
            probability: probabilities[i]!,
            inferenceTime: seconds,
            queueWait: (started - r.arrived) / 1000,
            batchSize: requests.length,
            bucket,
          }),
        );
      },
      (error: unknown) => this.#fail(requests, bucket, (now() - t0) / 1000, error),
    ).finally(() => {
      for (const r of requests) clearTimeout(r.timer);
      this.#running.delete(running);
      this.#schedule();
    });
  }

  #fail(requests: Pending[], bucket: number, seconds: number, error: unknown): void {
    this.#events.batch?.({ size: requests.length, bucket, seconds, ok: false, error });
    const failure = new ServeError('BACKEND_FAILED', 'the model failed on the batch this request was in; retry', { cause: error });
    for (const r of requests) {
      clearTimeout(r.timer);
      if (!r.settled) r.reject(failure);
    }
  }
}

/** One BatcherEvents that forwards to each listener in the list, as the list is when it reports. */
function fanOut(listeners: readonly BatcherEvents[]): BatcherEvents {
  return {
    batch: (info) => listeners.forEach((l) => l.batch?.(info)),
    rejected: (reason) => listeners.forEach((l) => l.rejected?.(reason)),
    refused: (decision, state) => listeners.forEach((l) => l.refused?.(decision, state)),
    dispatched: (wait) => listeners.forEach((l) => l.dispatched?.(wait)),
  };
}
