// A self-contained SVG report of a bench run: latency histogram (left) and completed requests per
// second over the run (right). Plain SVG so any browser or image viewer opens it, nothing to install.

export interface PlotData {
  title: string;
  /** Latency of each successful request, ms. */
  latenciesMs: number[];
  /** When each request (any outcome) finished, ms since the start. */
  finishedAtMs: number[];
  /** Marked on the histogram. */
  p50: number;
  p99: number;
}

const W = 460;
const H = 300;
const PAD = { left: 55, right: 15, top: 40, bottom: 45 };

const esc = (s: string): string => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** Bars in a panel at horizontal offset `x0`, with axes, ticks and labels. */
function panel(x0: number, title: string, xLabel: string, yLabel: string, edges: number[], counts: number[], marks: Array<[string, number]>): string {
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const lo = edges[0]!;
  const hi = edges[edges.length - 1]!;
  const span = hi - lo || 1;
  const top = Math.max(1, ...counts);
  const x = (v: number): number => x0 + PAD.left + ((v - lo) / span) * iw;
  const y = (c: number): number => PAD.top + ih - (c / top) * ih;
  const parts: string[] = [`<text x="${x0 + W / 2}" y="22" text-anchor="middle" font-weight="bold">${esc(title)}</text>`];
  counts.forEach((c, i) => {
    if (c === 0) return;
    const a = x(edges[i]!);
    const b = x(edges[i + 1]!);
    parts.push(`<rect x="${a.toFixed(1)}" y="${y(c).toFixed(1)}" width="${Math.max(0.5, b - a - 1).toFixed(1)}" height="${(y(0) - y(c)).toFixed(1)}" fill="#4a7bd0"><title>${fmt(edges[i]!)}–${fmt(edges[i + 1]!)}: ${c}</title></rect>`);
  });
  parts.push(`<line x1="${x(lo)}" y1="${y(0)}" x2="${x(hi)}" y2="${y(0)}" stroke="#333"/>`, `<line x1="${x(lo)}" y1="${y(0)}" x2="${x(lo)}" y2="${PAD.top}" stroke="#333"/>`);
  for (let t = 0; t <= 4; t++) {
    const v = lo + (span * t) / 4;
    parts.push(`<text x="${x(v).toFixed(1)}" y="${y(0) + 16}" text-anchor="middle">${fmt(v)}</text>`);
    const c = (top * t) / 4;
    parts.push(`<text x="${x(lo) - 6}" y="${(y(c) + 4).toFixed(1)}" text-anchor="end">${fmt(c)}</text>`);
  }
  for (const [label, v] of marks) {
    parts.push(`<line x1="${x(v).toFixed(1)}" y1="${PAD.top}" x2="${x(v).toFixed(1)}" y2="${y(0)}" stroke="#d04a4a" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${(x(v) + 3).toFixed(1)}" y="${PAD.top + 10}" fill="#d04a4a">${esc(label)}</text>`);
  }
  parts.push(`<text x="${x0 + PAD.left + iw / 2}" y="${H - 8}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(${x0 + 14} ${PAD.top + ih / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  return parts.join('\n');
}

function histogram(values: number[], lo: number, hi: number, bins: number): { edges: number[]; counts: number[] } {
  const width = (hi - lo) / bins || 1;
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + i * width);
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)))]!++;
  return { edges, counts };
}

export function benchSvg(data: PlotData): string {
  const lat = data.latenciesMs.length ? data.latenciesMs : [0];
  const latencies = histogram(lat, 0, Math.max(...lat) * 1.02 || 1, 40);
  const endS = Math.max(1e-3, ...data.finishedAtMs) / 1000;
  // Quarter-second steps on short runs, so a 2-second bench still draws a shape.
  const step = endS < 5 ? 0.25 : endS < 60 ? 1 : Math.ceil(endS / 60);
  const bins = Math.max(1, Math.ceil(endS / step));
  const done = histogram(data.finishedAtMs.map((ms) => ms / 1000), 0, bins * step, bins);
  const perSecond = done.counts.map((c) => c / step);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 20}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    panel(0, 'Latency (successful requests)', 'latency, ms', 'requests', latencies.edges, latencies.counts, [
      ['p50', data.p50],
      ['p99', data.p99],
    ]),
    panel(W, 'Throughput', 'time since start, s', 'requests finished / s', done.edges, perSecond, []),
    `<text x="${W}" y="${H + 12}" text-anchor="middle" fill="#555">${esc(data.title)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
