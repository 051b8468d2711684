// The batching the server did, read from its Prometheus /metrics (ts/metrics.ts):
// smart_turn_batch_size (histogram of requests per batch) and smart_turn_batches_total{bucket}.
import type { Target } from './target.js';

export interface BatchCounts {
  batches: number;
  /** Requests in those batches. */
  requests: number;
  /** Cumulative histogram: batches with at most `le` requests. */
  atMost: Map<number, number>;
  /** Batches by the bucket (padded batch size) they ran as. */
  byBucket: Map<number, number>;
}

export function parseBatchMetrics(text: string): BatchCounts {
  const counts: BatchCounts = { batches: 0, requests: 0, atMost: new Map(), byBucket: new Map() };
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^(smart_turn_batch_size_(?:bucket|sum|count)|smart_turn_batches_total)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    const label = (name: string): string | undefined => new RegExp(`${name}="([^"]*)"`).exec(m[2] ?? '')?.[1];
    if (m[1] === 'smart_turn_batch_size_count') counts.batches = value;
    else if (m[1] === 'smart_turn_batch_size_sum') counts.requests = value;
    else if (m[1] === 'smart_turn_batch_size_bucket') {
      const le = label('le');
      if (le && le !== '+Inf') counts.atMost.set(Number(le), value);
    } else {
      const bucket = label('bucket');
      if (bucket) counts.byBucket.set(Number(bucket), value);
    }
  }
  return counts;
}

/** after − before, key by key: what one bench run caused. */
export function diff(after: BatchCounts, before: BatchCounts): BatchCounts {
  const sub = (a: Map<number, number>, b: Map<number, number>): Map<number, number> =>
    new Map([...a].map(([k, v]) => [k, v - (b.get(k) ?? 0)]));
  return {
    batches: after.batches - before.batches,
    requests: after.requests - before.requests,
    atMost: sub(after.atMost, before.atMost),
    byBucket: new Map([...sub(after.byBucket, before.byBucket)].filter(([, n]) => n > 0)),
  };
}

/** Batches per size range (e.g. "3-4": 7) from the cumulative histogram. */
export function sizeRanges(counts: BatchCounts): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  let previousLe = 0;
  let previousCount = 0;
  for (const [le, cumulative] of [...counts.atMost].sort((a, b) => a[0] - b[0])) {
    const n = cumulative - previousCount;
    if (n > 0) out.push([le === previousLe + 1 ? String(le) : `${previousLe + 1}-${le}`, n]);
    previousLe = le;
    previousCount = cumulative;
  }
  if (counts.batches > previousCount) out.push([`>${previousLe}`, counts.batches - previousCount]);
  return out;
}

/** The server's batch counters, or the reason they could not be read. */
export async function scrapeBatches(to: Target, metricsKey: string | undefined): Promise<BatchCounts | string> {
  try {
    const response = await fetch(`${to.base}/metrics`, {
      headers: metricsKey ? { authorization: `Key ${metricsKey}` } : {},
      signal: AbortSignal.timeout(5000),
    });
    if (response.status === 401) return `${to.base}/metrics answered 401: set METRICS_AUTH_KEY to the server's METRICS_AUTH_KEY`;
    if (!response.ok) return `${to.base}/metrics answered ${response.status}`;
    return parseBatchMetrics(await response.text());
  } catch (error) {
    return `${to.base}/metrics could not be read: ${(error as Error).message}`;
  }
}
