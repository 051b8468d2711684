// Readiness, apart from liveness: `/health` only says the process answers (and must stay exactly
// {"ok": true} for Pipecat-era checks); `/ready` says whether this replica should get traffic.
import type { BatcherEvents } from './batcher.js';

export interface ReadyState {
  ready: boolean;
  reason: string;
}

export class Readiness {
  #warm = false;
  #draining = false;
  #failures = 0;
  #probing = false;

  /**
   * @param maxConsecutiveFailures failed batches in a row after which the replica is not ready.
   * @param probe runs one small batch through the batcher. A replica that is not ready gets no traffic,
   *   so nothing else would ever show that the backend has recovered: each readiness check while
   *   failing starts a probe (one at a time), whose outcome reaches `events` like any batch's.
   */
  constructor(
    private readonly maxConsecutiveFailures = 3,
    private readonly probe: () => Promise<unknown> = () => Promise.resolve(),
  ) {}

  markWarm(): void {
    this.#warm = true;
  }

  markDraining(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  readonly events: BatcherEvents = {
    batch: ({ ok }) => {
      this.#failures = ok ? 0 : this.#failures + 1;
    },
  };

  /** The state now; starts a recovery probe when failing. */
  check(): ReadyState {
    if (this.#draining) return { ready: false, reason: 'shutting down' };
    if (!this.#warm) return { ready: false, reason: 'warming up' };
    if (this.#failures >= this.maxConsecutiveFailures) {
      if (!this.#probing) {
        this.#probing = true;
        this.probe()
          .catch(() => undefined)
          .finally(() => (this.#probing = false));
      }
      return { ready: false, reason: `the last ${this.#failures} batches failed in the backend; probing it` };
    }
    return { ready: true, reason: 'ok' };
  }
}
