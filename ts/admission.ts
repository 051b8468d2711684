// Admission by deadline: a request is let into the queue when the answer it can expect, from the work
// ahead of it and what batches really take on this backend, fits in its deadline; otherwise it is
// refused at once, while the client still has time to go elsewhere. The policy is data
// (AdmissionPolicy); the batcher (batch formation, hand-off to the backend) only asks `admit`.
//
// The prediction follows the batcher's rules: requests leave in arrival order, in batches of the
// largest bucket, at most `slots` at a time. A request that must wait is assumed to ride in a full
// batch (later arrivals join it before it leaves); one that would leave at once rides in the bucket
// holding the requests waiting now.

export interface AdmissionPolicy {
  /** An answer is due this long after admission (REQUEST_TIMEOUT_MS). */
  readonly deadlineMs: number;
  /**
   * Share of the deadline kept back from the prediction: the prediction leaves out reading and
   * preparing the request and sending the answer, and a batch may run slower than the recent ones.
   */
  readonly margin: number;
  /** An operator's cap on requests waiting for a batch (MAX_QUEUE); undefined: none. */
  readonly maxQueue: number | undefined;
}

/** A fifth of the deadline: with 2.5 s, 2 s of predicted answer time, half a second for the rest. */
export const DEFAULT_MARGIN = 0.2;

/** What a request arriving now would find. */
export interface QueueState {
  /** Requests admitted and not yet in a running batch (queued, or still being prepared). */
  readonly waiting: number;
  /** Seconds each running batch is still expected to take. */
  readonly running: readonly number[];
}

/** How the backend forms and runs batches. */
export interface BatchShape {
  readonly buckets: readonly number[];
  /** Batches that may run at once (Backend.maxInFlight). */
  readonly slots: number;
  readonly windowMs: number;
}

export interface Prediction {
  /** Milliseconds from now to the answer. */
  readonly ms: number;
  /** The bucket the request is expected to ride in, and what that batch takes. */
  readonly bucket: number;
  readonly batchSeconds: number;
}

export type Decision =
  | { readonly admit: true; readonly prediction: Prediction }
  | { readonly admit: false; readonly reason: 'deadline' | 'max_queue'; readonly prediction: Prediction; readonly message: string };

/**
 * What a batch of each bucket takes, from the batches this backend really ran, per bucket: a moving
 * mean and mean deviation (as TCP estimates a round trip, RFC 6298: the first measurement R gives a
 * deviation of R / 2, as nothing is known yet of how batches vary), so the estimate follows load,
 * contention and a warming cache, and allows for how much batches have been varying. Warm-up's first
 * runs (slower than steady state) only seed it until the bucket's first real batch.
 */
export class BatchTimes {
  /** Weight of the newest batch in the mean: a change is followed within a handful of batches. */
  static readonly WEIGHT = 0.2;
  /** Weight of the newest deviation (RFC 6298's beta). */
  static readonly DEVIATION_WEIGHT = 0.25;
  /**
   * Deviations added to the mean for the time a batch may take. One: two refused more than needed
   * under a busy CPU's jitter, none let a slower spell make admitted requests late.
   */
  static readonly DEVIATIONS = 1;
  /**
   * A bucket only seeded by warm-up's cold run, or not run for this long, is estimated no dearer per
   * request than a smaller one that has run since: large batches are not kept from forming by a
   * first run's cost, or by a slow spell that has passed.
   */
  static readonly STALE_MS = 10_000;
  readonly #seconds = new Map<number, { mean: number; deviation: number; seeded: boolean; at: number }>();

  seed(bucket: number, seconds: number, at = performance.now()): void {
    if (!this.#seconds.has(bucket)) this.#seconds.set(bucket, { mean: seconds, deviation: 0, seeded: true, at });
  }

  /**
   * A batch of `size` requests ran as `bucket` in `seconds`. Counted as a full batch would be at the
   * same cost per request: exact where only filled rows are computed (ONNX Runtime), an overestimate
   * of at most the bucket's step where padding rows cost as much (TensorRT).
   */
  observe(bucket: number, size: number, seconds: number, at = performance.now()): void {
    const full = (seconds * bucket) / Math.max(1, size);
    const known = this.#seconds.get(bucket);
    if (!known || known.seeded) {
      this.#seconds.set(bucket, { mean: full, deviation: full / 2, seeded: false, at });
      return;
    }
    known.deviation += BatchTimes.DEVIATION_WEIGHT * (Math.abs(full - known.mean) - known.deviation);
    known.mean += BatchTimes.WEIGHT * (full - known.mean);
    known.at = at;
  }

  /**
   * Seconds a full batch of `bucket` takes: the mean plus `deviations` mean deviations (DEVIATIONS,
   * what it may take; 0, what it takes typically). Unmeasured: from the nearest measured bucket, per
   * request; 0 if none is.
   */
  of(bucket: number, deviations = BatchTimes.DEVIATIONS, at = performance.now()): number {
    const seconds = (e: { mean: number; deviation: number }, b: number): number => ((e.mean + deviations * e.deviation) * bucket) / b;
    const own = this.#seconds.get(bucket);
    if (own) {
      let value = seconds(own, bucket);
      if (own.seeded || at - own.at > BatchTimes.STALE_MS) {
        for (const [b, e] of this.#seconds) if (b < bucket && e.at > own.at) value = Math.min(value, seconds(e, b));
      }
      return value;
    }
    let nearest: number | undefined;
    for (const b of this.#seconds.keys()) if (nearest === undefined || Math.abs(Math.log(b / bucket)) < Math.abs(Math.log(nearest / bucket))) nearest = b;
    return nearest === undefined ? 0 : seconds(this.#seconds.get(nearest)!, nearest);
  }

  /** The estimates (what `of` answers), for logs and metrics. */
  entries(): Array<[bucket: number, seconds: number]> {
    return [...this.#seconds.keys()].sort((a, b) => a - b).map((bucket) => [bucket, this.of(bucket)]);
  }
}

/** When a request arriving to `state` would be answered. */
export function predict(state: QueueState, shape: BatchShape, times: BatchTimes): Prediction {
  const largest = shape.buckets[shape.buckets.length - 1]!;
  // Slots free at: each running batch's remaining time, then idle slots (now), soonest first.
  const free = [...state.running.slice(0, shape.slots), ...Array<number>(Math.max(0, shape.slots - state.running.length)).fill(0)].sort((a, b) => a - b);
  const fullBatch = times.of(largest);
  // Full batches ahead take the slots in turn; all last `fullBatch`, so the turn order stays sorted.
  const ahead = Math.floor(state.waiting / largest);
  const start = free[ahead % shape.slots]! + Math.floor(ahead / shape.slots) * fullBatch;
  const leavesNow = ahead === 0 && start === 0;
  const bucket = leavesNow ? shape.buckets.find((b) => b > state.waiting)! : largest;
  const batchSeconds = times.of(bucket);
  return { ms: (start + batchSeconds) * 1000 + (leavesNow ? shape.windowMs : 0), bucket, batchSeconds };
}

/** Admit a request arriving to `state`, or say why not. */
export function admit(state: QueueState, shape: BatchShape, times: BatchTimes, policy: AdmissionPolicy): Decision {
  const prediction = predict(state, shape, times);
  if (policy.maxQueue !== undefined && state.waiting >= policy.maxQueue) {
    return { admit: false, reason: 'max_queue', prediction, message: `server is at capacity (MAX_QUEUE=${policy.maxQueue} requests waiting); retry shortly` };
  }
  const target = targetMs(policy);
  if (prediction.ms > target) {
    return {
      admit: false,
      reason: 'deadline',
      prediction,
      message: `server is at capacity: an answer would take about ${Math.round(prediction.ms)} ms, past the ${Math.round(target)} ms that REQUEST_TIMEOUT_MS=${policy.deadlineMs} allows with its margin; retry shortly`,
    };
  }
  return { admit: true, prediction };
}

/** The predicted answer time a request may have and still be admitted. */
export function targetMs(policy: AdmissionPolicy): number {
  return policy.deadlineMs * (1 - policy.margin);
}

/** How many requests may wait, with idle slots, before the next would be refused: the current limit. */
export function queueLimit(shape: BatchShape, times: BatchTimes, policy: AdmissionPolicy): number {
  const fits = (waiting: number): boolean => admit({ waiting, running: [] }, shape, times, policy).admit;
  if (!fits(0)) return 0;
  let low = 0; // fits
  let high = 1;
  while (fits(high)) {
    low = high;
    high *= 2;
    if (high > 1 << 24) return Infinity; // nothing measured yet: no limit but MAX_QUEUE
  }
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (fits(mid)) low = mid;
    else high = mid;
  }
  return low + 1;
}
