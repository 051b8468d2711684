// One turn over GET /stream, with its outcome classified as postRaw classifies a POST's, so that the
// tools explain failures the same way: the audio as 20 ms int16 frames, then a predict at the "pause".
import WebSocket from 'ws';
import { ERRORS, type ErrorCode } from '../../ts/errors.js';
import { serverMessage, type Outcome, type Prediction } from './http.js';
import { int16Pcm } from './npy.js';
import { authHeaders, type Target } from './target.js';


export interface Streamed {
  /** `ms` is from the predict message to its answer: what a conversation waits at a pause. */
  outcome: Outcome;
  frames: number;
  /** Milliseconds from the connection being open to the last frame written. */
  sendMs: number;
}

/** The /stream URL beside a target's /raw, for int16 audio at `rate`. */
export function streamUrl(to: Target, rate: number): string {
  return `${to.base.replace(/^http/, 'ws')}/stream?sample_rate=${rate}&sample_type=int16`;
}

/** Streams `samples` (at `rate` Hz, as 20 ms frames) and asks once; never throws. */
export function streamTurn(to: Target, samples: Float32Array, rate: number, timeoutMs: number): Promise<Streamed> {
  const url = streamUrl(to, rate);
  const frame = Math.round(rate / 50);
  const pcm = int16Pcm(samples);
  const frames = Math.ceil(samples.length / frame);
  const t0 = performance.now();
  let asked = 0;
  let sendMs = 0;
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: authHeaders(to.authKey) });
    let done = false;
    const finish = (outcome: Outcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.terminate();
      resolve({ outcome, frames, sendMs });
    };
    const ms = (): number => performance.now() - (asked || t0);
    const timer = setTimeout(() => finish({ ok: false, kind: 'timeout', status: 'timeout', message: `no answer within ${timeoutMs / 1000} s`, ms: ms() }), timeoutMs);
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => finish({ ok: false, kind: 'http', status: res.statusCode ?? 0, message: serverMessage(text) ?? res.statusMessage ?? '', ms: ms() }));
    });
    ws.on('error', (error: Error & { code?: string }) =>
      finish({ ok: false, kind: 'unreachable', status: error.code ?? error.name, message: error.message, ms: ms() }),
    );
    ws.on('close', (code, reason) =>
      finish({ ok: false, kind: 'unreachable', status: `closed ${code}`, message: `the server closed the stream: ${reason.toString() || 'no reason given'}`, ms: ms() }),
    );
    ws.on('message', (data) => {
      let m: ({ type: 'result'; id: number } & Prediction) | { type: 'error'; id?: number; code: ErrorCode; message: string };
      try {
        m = JSON.parse(data.toString());
      } catch {
        return finish({ ok: false, kind: 'bad-answer', status: 'bad-answer', message: `not a Smart Turn stream message: ${data.toString().slice(0, 200)}`, ms: ms() });
      }
      if (m.type === 'result' && m.id === 1) {
        const { prediction, probability, metrics } = m;
        finish({ ok: true, status: 200, answer: { prediction, probability, metrics }, ms: ms() });
      } else if (m.type === 'error') {
        finish({ ok: false, kind: 'http', status: ERRORS[m.code] ?? 500, message: `${m.code}: ${m.message}`, ms: ms() });
      }
    });
    ws.on('open', async () => {
      const opened = performance.now();
      const send = (data: Buffer | string): Promise<void> => new Promise((ok, fail) => ws.send(data, (error) => (error ? fail(error) : ok())));
      try {
        for (let at = 0; at < pcm.length; at += frame * 2) await send(pcm.subarray(at, at + frame * 2));
        sendMs = performance.now() - opened;
        asked = performance.now();
        await send(JSON.stringify({ type: 'predict', id: 1 }));
      } catch {
        /* the socket closed: its close or error event reports it */
      }
    });
  });
}
