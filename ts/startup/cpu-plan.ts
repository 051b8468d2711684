// How ONNX Runtime shares a small machine with the event loop: its intra-op threads, whether they spin
// while waiting for work, and the batch sizes, derived from the cores this process may use and logged
// once at start-up. Each part has its own variable that overrides it (README, Performance).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Config } from '../config.js';

export type PlanSettings = Pick<Config, 'ortIntraOpThreads' | 'ortInterOpThreads' | 'ortAllowSpinning' | 'batchBuckets'>;

export interface CpuPlan {
  /** Cores this process may use (see usableCores). */
  cores: number;
  /** 0: ONNX Runtime's own choice (one per physical core). */
  intraOpThreads: number;
  interOpThreads: number;
  allowSpinning: boolean;
  buckets: number[];
  /** The variables that set a part of this plan; every other part is derived from `cores`. */
  overriddenBy: string[];
}

/** The largest CPU bucket, reached from 16 cores up (README, Performance: batching gain on a CPU). */
const MAX_CPU_BUCKET = 8;

/**
 * - Intra-op threads: one per core. At batch 1 the model's matrix products are tall enough to keep every
 *   core busy, and the event loop's share of a request is small beside the model's.
 * - Spinning: only when the intra-op pool leaves a core free. A pool that covers every core and spins
 *   between operators takes the core the event loop needs to read and prepare the next request, and a
 *   preempted spinning thread stalls the operator its siblings wait on.
 * - Buckets: 1 up to a power of two no larger than half the cores. On two cores a batch is hardly faster
 *   per clip than one clip at a time, only later; with more cores, a batch gives the pool more rows to split.
 * - Inter-op threads: 1. Sessions run sequentially, so ONNX Runtime creates no inter-op pool.
 */
export function cpuPlan(settings: PlanSettings, cores: number = usableCores()): CpuPlan {
  const intraOpThreads = settings.ortIntraOpThreads ?? cores;
  const pool = intraOpThreads === 0 ? cores : intraOpThreads;
  const overrides: Array<[string, unknown]> = [
    ['ORT_INTRA_OP_THREADS', settings.ortIntraOpThreads],
    ['ORT_INTER_OP_THREADS', settings.ortInterOpThreads],
    ['ORT_ALLOW_SPINNING', settings.ortAllowSpinning],
    ['BATCH_BUCKETS', settings.batchBuckets],
  ];
  return {
    cores,
    intraOpThreads,
    interOpThreads: settings.ortInterOpThreads ?? 1,
    allowSpinning: settings.ortAllowSpinning ?? pool < cores,
    buckets: settings.batchBuckets ?? bucketsFor(cores),
    overriddenBy: overrides.filter(([, value]) => value !== undefined).map(([name]) => name),
  };
}

function bucketsFor(cores: number): number[] {
  const buckets = [1];
  while (buckets[buckets.length - 1]! * 2 <= Math.min(MAX_CPU_BUCKET, cores / 2)) buckets.push(buckets[buckets.length - 1]! * 2);
  return buckets;
}

/**
 * The cores this process may run on (`os.availableParallelism()`, which follows the affinity mask), or
 * fewer when a cgroup v2 CPU quota allows less (a container's CPU limit): threads beyond the quota would
 * only be throttled.
 */
export function usableCores(cpuMax = '/sys/fs/cgroup/cpu.max'): number {
  const cores = os.availableParallelism();
  let quota: number | undefined;
  try {
    const [limit, period] = readFileSync(cpuMax, 'utf8').trim().split(/\s+/);
    if (limit !== 'max' && Number(period) > 0) quota = Math.max(1, Math.ceil(Number(limit) / Number(period)));
  } catch {
    // no cgroup v2 CPU controller: the affinity mask is the limit
  }
  return quota === undefined || !Number.isFinite(quota) ? cores : Math.min(cores, quota);
}

/** The plan in one line for the start-up log. */
export function describePlan(plan: CpuPlan): string {
  const threads = plan.intraOpThreads === 0 ? "ONNX Runtime's own intra-op threads" : `${plan.intraOpThreads} intra-op thread${plan.intraOpThreads === 1 ? '' : 's'}`;
  const from = plan.overriddenBy.length === 0 ? 'all derived from the cores' : `${plan.overriddenBy.join(', ')} set, the rest derived from the cores`;
  return `${plan.cores} cores: ${threads} (${plan.allowSpinning ? 'spinning' : 'not spinning'}), ${plan.interOpThreads} inter-op, buckets ${plan.buckets.join(',')} (${from})`;
}
