// One POST /raw with its outcome classified, never thrown: bench counts outcomes, the single-shot
// tools explain them. Node's global fetch (undici) keeps connections alive between requests.
import type { Target } from './target.js';
import { authHeaders } from './target.js';

/** The /raw answer (ts/predict.ts `Prediction`). */
export interface Prediction {
  prediction: 0 | 1;
  probability: number;
  metrics: { inference_time: number; total_time: number };
}

export type Outcome =
  | { ok: true; status: 200; answer: Prediction; ms: number }
  | { ok: false; kind: 'http'; status: number; message: string; ms: number }
  | { ok: false; kind: 'unreachable' | 'timeout' | 'bad-answer'; status: string; message: string; ms: number };

export async function postRaw(to: Target, body: Uint8Array, timeoutMs: number, headers: Record<string, string> = {}): Promise<Outcome> {
  const t0 = performance.now();
  const ms = (): number => performance.now() - t0;
  let response: Response;
  let text: string;
  try {
    response = await fetch(to.raw, {
      method: 'POST',
      body: body as unknown as string, // fetch takes any Uint8Array; Node 20's types lag behind
      headers: { 'content-type': 'application/octet-stream', ...headers, ...authHeaders(to.authKey) },
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    const e = error as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') {
      return { ok: false, kind: 'timeout', status: 'timeout', message: `no answer within ${timeoutMs / 1000} s`, ms: ms() };
    }
    const code = e.cause?.code ?? e.name;
    return { ok: false, kind: 'unreachable', status: code, message: `${e.cause?.message ?? e.message}`, ms: ms() };
  }
  if (response.status !== 200) {
    return { ok: false, kind: 'http', status: response.status, message: serverMessage(text) ?? response.statusText, ms: ms() };
  }
  try {
    const answer = JSON.parse(text) as Prediction;
    if (typeof answer.probability !== 'number' || typeof answer.metrics?.inference_time !== 'number') throw new Error('fields missing');
    return { ok: true, status: 200, answer, ms: ms() };
  } catch {
    return { ok: false, kind: 'bad-answer', status: 'bad-answer', message: `200 but not a Smart Turn answer: ${text.slice(0, 200)}`, ms: ms() };
  }
}

/** The server's `{error: {code, message}}`, or undefined for any other body. */
export function serverMessage(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return `${body.error.code ?? 'ERROR'}: ${body.error.message}`;
  } catch {
    /* not JSON: a proxy's page, say */
  }
  return text ? text.slice(0, 200) : undefined;
}

/** What a person should do about a failed request. */
export function explain(outcome: Exclude<Outcome, { ok: true }>, to: Target, keySource = 'AUTH_KEY'): string {
  const where = to.raw;
  switch (outcome.kind) {
    case 'unreachable':
      return `cannot reach ${where} (${outcome.status}: ${outcome.message}). Is the server running (bash scripts/start_bg.sh) and are host and port right?`;
    case 'timeout':
      return `${where} gave no answer within the timeout (${outcome.message}). The server may be overloaded, still loading the model, or behind a firewall that drops packets; raise --timeout or check its logs (bash scripts/tail_bg_logs.sh).`;
    case 'bad-answer':
      return `${where}: ${outcome.message}. Is this URL a Smart Turn server?`;
    case 'http':
      if (outcome.status === 401) {
        return `401 from ${where}: ${outcome.message}. ${to.authKey ? `The key sent (from ${keySource}) is not the server's AUTH_KEY.` : `The server requires a key: set ${keySource} to the server's AUTH_KEY.`}`;
      }
      if (outcome.status === 404) return `404 from ${where}: ${outcome.message}. Check the URL: the model answers POST /raw.`;
      if (outcome.status === 503 || outcome.status === 429) return `${outcome.status} from ${where}: ${outcome.message}. The server is busy or not ready yet; retry shortly.`;
      return `${outcome.status} from ${where}: ${outcome.message}`;
  }
}
