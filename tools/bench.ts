// npm run bench -- [--sample FILE] [--seconds N] [--requests R] [--concurrency C] [--json F] [--plot F]
// Closed-loop load: C requests always in flight until R have been sent. Reports client latency,
// throughput, errors by status, the server's own inference_time, and the batches the server formed
// (from the change in its /metrics over the run).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AUDIO_HELP, AUDIO_OPTIONS, loadClip, number, parse, runMain } from './lib/cli.js';
import { postRaw, type Outcome } from './lib/http.js';
import { benchSvg } from './lib/plot.js';
import { diff, scrapeBatches, sizeRanges, type BatchCounts } from './lib/prom.js';
import { spread, type Spread } from './lib/stats.js';
import { localUrl, target, UsageError } from './lib/target.js';

const HELP = `usage: npm run bench -- [options]   (or bash scripts/bench.sh [options])
Keeps --concurrency requests in flight until --requests have been answered, then reports.
${AUDIO_HELP}
  --requests R     total requests. Default 256
  --concurrency C  requests in flight at once. Default 64
  --url URL        server or /raw URL. Default: $SMART_TURN_URL, else http://127.0.0.1:$PORT (8000)
  --timeout S      per-request timeout in seconds. Default 10
  --json FILE      also write the numbers as JSON
  --plot FILE.svg  also write a latency histogram and throughput chart
Env: AUTH_KEY for /raw, METRICS_AUTH_KEY for /metrics (if the server sets one).
Exit code: 0 when every request got a 200, 1 otherwise.`;

/** What --json writes. Times in milliseconds unless named _s. */
export interface BenchReport {
  url: string;
  audio: string;
  requests: number;
  concurrency: number;
  wall_s: number;
  throughput_rps: number;
  ok: number;
  errors: Record<string, number>;
  latency_ms: Spread | null;
  server_inference_ms: Spread | null;
  server_total_ms: Spread | null;
  batches: { count: number; requests: number; mean_size: number; by_size: Record<string, number>; by_bucket: Record<string, number> } | { unavailable: string };
}

runMain(async () => {
  const { values } = parse({
    ...AUDIO_OPTIONS,
    url: { type: 'string' },
    requests: { type: 'string', default: '256' },
    concurrency: { type: 'string', default: '64' },
    json: { type: 'string' },
    plot: { type: 'string' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const requests = number('requests', values.requests, 256, 1);
  const concurrency = Math.min(requests, number('concurrency', values.concurrency, 64, 1));
  if (!Number.isInteger(requests) || !Number.isInteger(concurrency)) throw new UsageError('--requests and --concurrency must be whole numbers');
  const timeoutMs = number('timeout', values.timeout, 10, 0.001) * 1000;
  const to = target(values.url ?? localUrl(), process.env['AUTH_KEY']);
  const clip = loadClip(values);
  const metricsKey = process.env['METRICS_AUTH_KEY'];
  console.error(`bench: ${requests} requests, ${concurrency} in flight, to ${to.raw} with ${clip.description}`);

  const before = await scrapeBatches(to, metricsKey);
  const outcomes: Outcome[] = [];
  const finishedAtMs: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < requests) {
      next++;
      const outcome = await postRaw(to, clip.body, timeoutMs, clip.headers);
      outcomes.push(outcome);
      finishedAtMs.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallS = (performance.now() - t0) / 1000;
  const after = await scrapeBatches(to, metricsKey);

  const ok = outcomes.filter((o): o is Extract<Outcome, { ok: true }> => o.ok);
  const errors: Record<string, number> = {};
  const examples = new Map<string, string>();
  for (const o of outcomes) {
    if (o.ok) continue;
    const key = String(o.status);
    errors[key] = (errors[key] ?? 0) + 1;
    if (!examples.has(key)) examples.set(key, o.message);
  }
  const batches = typeof before === 'string' ? before : typeof after === 'string' ? after : diff(after, before);
  const report: BenchReport = {
    url: to.raw,
    audio: clip.description,
    requests,
    concurrency,
    wall_s: wallS,
    throughput_rps: ok.length / wallS,
    ok: ok.length,
    errors,
    latency_ms: spread(ok.map((o) => o.ms)) ?? null,
    server_inference_ms: spread(ok.map((o) => o.answer.metrics.inference_time * 1000)) ?? null,
    server_total_ms: spread(ok.map((o) => o.answer.metrics.total_time * 1000)) ?? null,
    batches: typeof batches === 'string' ? { unavailable: batches } : batchSummary(batches),
  };

  console.log(render(report, examples));
  if (values.json) {
    writeOut(values.json, JSON.stringify(report, null, 2) + '\n');
    console.error(`bench: numbers written to ${values.json}`);
  }
  if (values.plot) {
    const lat = report.latency_ms;
    writeOut(
      values.plot,
      benchSvg({
        title: `${requests} requests, concurrency ${concurrency}, ${report.throughput_rps.toFixed(1)} req/s, ${ok.length} ok — ${clip.description}`,
        latenciesMs: ok.map((o) => o.ms),
        finishedAtMs,
        p50: lat?.p50 ?? 0,
        p99: lat?.p99 ?? 0,
      }),
    );
    console.error(`bench: chart written to ${values.plot} (open it in a browser)`);
  }
  return ok.length === requests ? 0 : 1;
});

function batchSummary(b: BatchCounts): Exclude<BenchReport['batches'], { unavailable: string }> {
  return {
    count: b.batches,
    requests: b.requests,
    mean_size: b.batches ? b.requests / b.batches : 0,
    by_size: Object.fromEntries(sizeRanges(b)),
    by_bucket: Object.fromEntries([...b.byBucket].sort((x, y) => x[0] - y[0]).map(([k, v]) => [String(k), v])),
  };
}

function writeOut(file: string, text: string): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, text);
}

function render(r: BenchReport, examples: Map<string, string>): string {
  const ms = (s: Spread | null): string =>
    s ? `p50 ${s.p50.toFixed(1)}  p90 ${s.p90.toFixed(1)}  p99 ${s.p99.toFixed(1)}  max ${s.max.toFixed(1)}  (mean ${s.mean.toFixed(1)}, min ${s.min.toFixed(1)})` : 'no successful requests';
  const lines = [
    `requests      ${r.ok}/${r.requests} ok in ${r.wall_s.toFixed(2)} s, concurrency ${r.concurrency}`,
    `throughput    ${r.throughput_rps.toFixed(1)} req/s`,
    `latency ms    ${ms(r.latency_ms)}`,
    `server ms     inference_time ${ms(r.server_inference_ms)}`,
    `              total_time     ${ms(r.server_total_ms)}`,
  ];
  const errorKeys = Object.keys(r.errors);
  if (errorKeys.length === 0) lines.push('errors        none');
  for (const key of errorKeys) lines.push(`errors        ${key}: ${r.errors[key]} (e.g. ${examples.get(key)})`);
  if (r.errors['503'] || r.errors['429']) {
    lines.push('              the server shed load: lower --concurrency, add replicas, or raise the server\'s REQUEST_TIMEOUT_MS (it admits what it can answer within it)');
  }
  if ('unavailable' in r.batches) lines.push(`batches       unknown: ${r.batches.unavailable}`);
  else {
    const b = r.batches;
    const sizes = Object.entries(b.by_size).map(([k, v]) => `${k}: ${v}`).join(', ');
    const buckets = Object.entries(b.by_bucket).map(([k, v]) => `${k}: ${v}`).join(', ');
    lines.push(`batches       ${b.count} formed for ${b.requests} requests, mean size ${b.mean_size.toFixed(2)}`);
    lines.push(`  by size     ${sizes || '-'}`);
    lines.push(`  by bucket   ${buckets || '-'}   (padded size each batch ran as)`);
  }
  return lines.join('\n');
}
