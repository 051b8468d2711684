// Backpressure for a stream whose client sends audio faster than real time (a reconnecting client
// re-sending its turn, a test, a misbehaving one): a token bucket of audio seconds that fills at one
// second per second up to the allowed lead. Past it the stream's socket is not read until the bucket
// has refilled, so TCP slows the client down and the server holds at most what it had already read.
export class Pace {
  #tokens: number;
  #at: number;

  constructor(
    private readonly leadSeconds: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#tokens = leadSeconds;
    this.#at = now();
  }

  /** Spends `seconds` of audio; returns the milliseconds to stop reading for (0: read on). */
  take(seconds: number): number {
    const t = this.now();
    this.#tokens = Math.min(this.leadSeconds, this.#tokens + (t - this.#at) / 1000) - seconds;
    this.#at = t;
    return this.#tokens >= 0 ? 0 : -this.#tokens * 1000;
  }
}
