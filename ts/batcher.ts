// Windowed micro-batching, after Triton's dynamic batcher: a bounded queue with a per-request
// deadline (policy, as data in BatcherOptions), batch formation (window or full largest bucket), and
// hand-off of a formed batch to the backend. Every submitted request settles exactly once.
import type { Backend } from './backends/backend.js';
import { ServeError } from './errors.js';
import type { Clip } from './model/family.js';

export interface BatcherOptions {
  /** How long the first request of a batch waits for company. */
  windowMs: number;
  /** Requests waiting for a batch at most; past it new ones are refused at once. */
  maxQueue: number;
  /** A request not yet in a running batch this long after it arrived is answered 503, not computed. */
  timeoutMs: number;
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

/** What the batcher reports as it works; metrics and readiness observe it. */
export interface BatcherEvents {
  batch?(info: { size: number; bucket: number; seconds: number; ok: boolean; error?: unknown }): void;
  rejected?(reason: Rejection): void;
  dispatched?(queueWaitSeconds: number): void;
}

/** A place in the queue, held while a request is prepared; use it exactly once. */
export interface Reservation {
  submit(clip: Clip, signal?: AbortSignal): Promise<BatchResult>;
  cancel(): void;
}

interface Pending {
  clip: Clip;
  arrived: number;
  resolve(result: BatchResult): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  detach(): void;
}

const now = (): number => performance.now();

export class Batcher {
  readonly #backend: Backend;
  readonly #options: BatcherOptions;
  readonly #listeners: BatcherEvents[];
  readonly #events: BatcherEvents;
  readonly #maxBucket: number;
  #queue: Pending[] = [];
  #inFlight = 0;
  #timer: NodeJS.Timeout | undefined;
  #closing = false;
  #reserved = 0;
  #idle: Array<() => void> = [];

  constructor(backend: Backend, options: BatcherOptions, events: BatcherEvents = {}) {
    if (backend.buckets.length === 0) throw new Error('backend has no batch buckets');
    this.#backend = backend;
    this.#options = { ...options };
    this.#listeners = [events];
    this.#events = fanOut(this.#listeners);
    this.#maxBucket = backend.buckets[backend.buckets.length - 1]!;
  }

  /** Reports to `listener` too from now on: what watches the batcher is made after it. */
  observe(listener: BatcherEvents): void {
    this.#listeners.push(listener);
  }

  get maxQueue(): number {
    return this.#options.maxQueue;
  }

  /** Sets the queue limit, e.g. once warm-up has measured what the backend can do. */
  set maxQueue(limit: number) {
    this.#options.maxQueue = Math.max(1, Math.floor(limit));
  }

  get queueDepth(): number {
    return this.#queue.length;
  }

  get inFlight(): number {
    return this.#inFlight;
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
   * is only done for requests that will get a place: a reservation counts against `maxQueue` from now
   * until it is submitted or cancelled, and drain() waits for it. Throws QUEUE_FULL or SHUTTING_DOWN.
   */
  reserve(): Reservation {
    if (this.#closing) {
      this.#events.rejected?.('shutting_down');
      throw new ServeError('SHUTTING_DOWN', 'the server is shutting down; retry on another replica', { retryAfter: 1 });
    }
    if (this.#queue.length + this.#reserved >= this.#options.maxQueue) {
      this.#events.rejected?.('queue_full');
      throw new ServeError('QUEUE_FULL', `server is at capacity (${this.#options.maxQueue} requests queued); retry shortly`, { retryAfter: 1 });
    }
    this.#reserved++;
    let open = true;
    const close = (): boolean => {
      if (!open) return false;
      open = false;
      this.#reserved--;
      return true;
    };
    return {
      submit: (clip, signal) => (close() ? this.#enqueue(clip, signal) : Promise.reject(new Error('reservation already used'))),
      cancel: () => {
        if (close()) this.#schedule();
      },
    };
  }

  #enqueue(clip: Clip, signal?: AbortSignal): Promise<BatchResult> {
    if (signal?.aborted) {
      this.#events.rejected?.('aborted');
      this.#schedule();
      return Promise.reject(new ServeError('CLIENT_GONE', 'client disconnected before its request was queued'));
    }
    return new Promise<BatchResult>((resolve, reject) => {
      const pending: Pending = {
        clip,
        arrived: now(),
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#drop(pending, 'expired', new ServeError('DEADLINE_EXCEEDED', `request waited ${this.#options.timeoutMs} ms without reaching the model; the server is overloaded, retry shortly`, { retryAfter: 1 }));
        }, this.#options.timeoutMs),
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
    if (this.#queue.length === 0 && this.#inFlight === 0 && this.#reserved === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
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
      if (this.#inFlight === 0 && this.#reserved === 0) this.#idle.splice(0).forEach((resolve) => resolve());
      return;
    }
    if (this.#inFlight >= this.#backend.maxInFlight) return; // a completing batch calls back here
    const wait = this.#queue[0]!.arrived + this.#options.windowMs - now();
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
    const requests = this.#queue.splice(0, this.#maxBucket);
    const bucket = this.#backend.buckets.find((b) => b >= requests.length)!;
    const started = now();
    for (const r of requests) {
      clearTimeout(r.timer);
      r.detach();
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
    this.#inFlight++;
    const t0 = now();
    this.#backend.infer(batch, requests.length).then(
      (probabilities) => {
        const seconds = (now() - t0) / 1000;
        this.#events.batch?.({ size: requests.length, bucket, seconds, ok: true });
        requests.forEach((r, i) =>
          r.resolve({
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
      this.#inFlight--;
      this.#schedule();
    });
  }

  #fail(requests: Pending[], bucket: number, seconds: number, error: unknown): void {
    this.#events.batch?.({ size: requests.length, bucket, seconds, ok: false, error });
    const failure = new ServeError('BACKEND_FAILED', 'the model failed on the batch this request was in; retry', { cause: error });
    for (const r of requests) r.reject(failure);
  }
}

/** One BatcherEvents that forwards to each listener in the list, as the list is when it reports. */
function fanOut(listeners: readonly BatcherEvents[]): BatcherEvents {
  return {
    batch: (info) => listeners.forEach((l) => l.batch?.(info)),
    rejected: (reason) => listeners.forEach((l) => l.rejected?.(reason)),
    dispatched: (wait) => listeners.forEach((l) => l.dispatched?.(wait)),
  };
}
