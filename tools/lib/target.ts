// Where the tools send requests, and with which key. One place for URL rules so warmup, bench and
// client agree: a bare host:port or base URL gets /raw appended; /metrics lives beside /raw.
export interface Target {
  /** The POST /raw URL. */
  raw: string;
  /** The server's base URL (for /health, /metrics). */
  base: string;
  authKey: string | undefined;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export function target(url: string, authKey: string | undefined): Target {
  let parsed: URL;
  try {
    parsed = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`);
  } catch {
    throw new UsageError(`not a URL: ${JSON.stringify(url)} (expected e.g. http://127.0.0.1:8000/raw)`);
  }
  const path = parsed.pathname.replace(/\/+$/, '');
  const basePath = path.endsWith('/raw') ? path.slice(0, -4) : path;
  const base = `${parsed.origin}${basePath}`;
  return { raw: `${base}/raw`, base, authKey: authKey || undefined };
}

/** The local server as scripts/start.sh runs it: SMART_TURN_URL, else 127.0.0.1 on PORT (8000). */
export function localUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env['SMART_TURN_URL'] || `http://127.0.0.1:${env['PORT'] || 8000}`;
}

export function authHeaders(key: string | undefined): Record<string, string> {
  return key ? { authorization: `Key ${key}` } : {};
}
