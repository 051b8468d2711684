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

  /** Consecutive failed batches after which the replica reports itself not ready. */
  constructor(private readonly maxConsecutiveFailures = 3) {}

  markWarm(): void {
    this.#warm = true;
  }

  markDraining(): void {
    this.#draining = true;
  }

  readonly events: BatcherEvents = {
    batch: ({ ok }) => {
      this.#failures = ok ? 0 : this.#failures + 1;
    },
  };

  get state(): ReadyState {
    if (this.#draining) return { ready: false, reason: 'shutting down' };
    if (!this.#warm) return { ready: false, reason: 'warming up' };
    if (this.#failures >= this.maxConsecutiveFailures) {
      return { ready: false, reason: `the last ${this.#failures} batches failed in the backend` };
    }
    return { ready: true, reason: 'ok' };
  }
}
