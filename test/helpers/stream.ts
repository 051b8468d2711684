// A GET /stream client for tests, on the `ws` package: messages in arrival order, the close code, and
// what a refused upgrade was answered.
import http from 'node:http';
import WebSocket from 'ws';

export interface Closed {
  code: number;
  reason: string;
}

export interface TestStream {
  ws: WebSocket;
  /** The next message the server sends (parsed JSON), in order; rejects if the stream closes first. */
  next(timeoutMs?: number): Promise<any>;
  /** Every message received so far, parsed. */
  received: any[];
  closed: Promise<Closed>;
  /** Sends one binary message, resolved once it is written to the socket. */
  send(data: Buffer | string): Promise<void>;
  predict(id: unknown): Promise<void>;
}

export function streamUrl(base: string, query = 'sample_rate=16000&sample_type=int16'): string {
  return `${base.replace(/^http/, 'ws')}/stream${query ? `?${query}` : ''}`;
}

/** Opens a stream; rejects with the refusal ({status, json}) if the upgrade is refused. */
export function openStream(base: string, query?: string, headers: Record<string, string> = {}): Promise<TestStream> {
  const ws = new WebSocket(streamUrl(base, query), { headers });
  const received: any[] = [];
  const waiting: Array<{ resolve(m: any): void; reject(e: Error): void }> = [];
  let read = 0;
  let ended: Closed | undefined;
  ws.on('message', (data, binary) => {
    received.push(binary ? data : JSON.parse(data.toString()));
    while (waiting.length > 0 && read < received.length) waiting.shift()!.resolve(received[read++]);
  });
  const closed = new Promise<Closed>((resolve) =>
    ws.on('close', (code, reason) => {
      ended = { code, reason: reason.toString() };
      for (const w of waiting.splice(0)) w.reject(new Error(`stream closed (${code} ${reason.toString()}) before the next message`));
      resolve(ended);
    }),
  );
  ws.on('error', () => undefined); // surfaced through `closed` or the refusal
  const stream: TestStream = {
    ws,
    received,
    closed,
    next(timeoutMs = 10_000) {
      if (read < received.length) return Promise.resolve(received[read++]);
      if (ended) return Promise.reject(new Error(`stream closed (${ended.code} ${ended.reason}) before the next message`));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs);
        waiting.push({
          resolve: (m) => (clearTimeout(timer), resolve(m)),
          reject: (e) => (clearTimeout(timer), reject(e)),
        });
      });
    },
    send: (data) => new Promise((resolve, reject) => ws.send(data, (error) => (error ? reject(error) : resolve()))),
    predict: (id) => stream.send(JSON.stringify({ type: 'predict', id })),
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(stream));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), refusal(res, text))));
    });
    ws.once('error', reject);
  });
}

function refusal(res: http.IncomingMessage, text: string): { status: number; headers: http.IncomingHttpHeaders; json: any } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.statusCode!, headers: res.headers, json };
}

/** The refusal of an upgrade that should be refused. */
export async function refused(base: string, query?: string, headers?: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; json: any }> {
  try {
    const stream = await openStream(base, query, headers);
    stream.ws.terminate();
  } catch (error) {
    if ((error as { status?: number }).status !== undefined) return error as { status: number; headers: http.IncomingHttpHeaders; json: any };
    throw error;
  }
  throw new Error('the upgrade was accepted');
}

/** Samples as little-endian int16 PCM bytes, rounding as Pipecat's int16 buffers do. */
export function int16Bytes(samples: Float32Array): Buffer {
  const pcm = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(samples[i]! * 32768)));
  return Buffer.from(pcm.buffer);
}

export function float32Bytes(samples: Float32Array): Buffer {
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
}

/** Sends `bytes` in messages of the given sizes (cycled), each a whole number of `sampleBytes`. */
export async function sendChunked(stream: TestStream, bytes: Buffer, sizes: number[]): Promise<void> {
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    await stream.send(bytes.subarray(at, at + size));
    at += size;
  }
}
