// One GET /stream connection: binary messages append audio to its turn, text messages are JSON
// control messages (predict, reset), and every bad message is answered with an error message or a
// close code, never a crash. Predictions go the way a POST /raw does (predict.ts) and are answered in
// the order they were asked.
import type { RawData, WebSocket } from 'ws';
import { ServeError, type ErrorCode } from '../errors.js';
import type { SamplePasses } from '../lib/samples.js';
import type { Logger } from '../log.js';
import { predict, type Predicted, type PredictDeps, type Prediction } from '../predict.js';
import { Pace } from './pace.js';
import { decodeChunk, type AudioFormat, type Turn } from './turn.js';

export interface SessionDeps extends PredictDeps {
  passes: SamplePasses;
  log: Logger;
}

/** Control messages are a few dozen bytes; a larger text message is refused with 1009. */
export const MAX_TEXT_BYTES = 4096;
/** How long a closing stream may take to answer the close handshake before its socket is dropped. */
const CLOSE_GRACE_MS = 1000;
const MAX_ID_LENGTH = 128;

// RFC 6455 §7.4.1 close codes.
export const CLOSE = { goingAway: 1001, policy: 1008, tooBig: 1009, internal: 1011 } as const;

type Id = string | number;
type Outgoing = ({ type: 'result'; id: Id } & Prediction) | { type: 'error'; id?: Id; code: ErrorCode; message: string };
type Settled = { ok: Predicted } | { error: unknown };

export class StreamSession {
  readonly #ws: WebSocket;
  readonly #turn: Turn;
  readonly #format: AudioFormat;
  readonly #deps: SessionDeps;
  readonly #pace: Pace;
  /** Ids (as JSON) of predictions asked and not yet answered. */
  readonly #pending = new Set<string>();
  /** Aborted when the socket closes: queued predictions of a departed client are never computed. */
  readonly #gone = new AbortController();
  /** The last answer to send: each prediction's answer is chained after the one asked before it. */
  #tail: Promise<void> = Promise.resolve();
  #idle: NodeJS.Timeout | undefined;
  #held: NodeJS.Timeout | undefined;
  #audioSeconds = 0;
  #predictions = 0;
  /** Settles once the socket has closed, whoever closed it. */
  readonly closed: Promise<void>;

  constructor(
    ws: WebSocket,
    turn: Turn,
    format: AudioFormat,
    deps: SessionDeps,
    readonly id: string,
  ) {
    this.#ws = ws;
    this.#turn = turn;
    this.#format = format;
    this.#deps = deps;
    this.#pace = new Pace(deps.config.streamMaxLeadMs / 1000);
    ws.on('message', (data, binary) => this.#receive(data, binary));
    ws.on('ping', () => this.#touch());
    // ws closes the connection itself after a protocol error (1002), bad UTF-8 (1007) or an oversized
    // message (1009); the error only needs to be seen, or it would be thrown.
    ws.on('error', (error) => deps.log.debug({ stream: id, err: error }, 'stream protocol error'));
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        this.#gone.abort();
        clearTimeout(this.#idle);
        clearTimeout(this.#held);
        this.#turn.close();
        deps.log.info({ stream: id, code, reason: reason.toString(), audioSeconds: this.#audioSeconds, predictions: this.#predictions }, 'stream closed');
        resolve();
      }),
    );
    this.#touch();
  }

  /** Answers every prediction asked so far, then closes with 1001; settles once closed. */
  async finish(): Promise<void> {
    // Answers may still be asked for while earlier ones are awaited (and are refused, SHUTTING_DOWN).
    for (let tail = this.#tail; ; tail = this.#tail) {
      await tail;
      if (tail === this.#tail) break;
    }
    this.#close(CLOSE.goingAway, 'server shutting down');
    const dropped = setTimeout(() => this.#ws.terminate(), CLOSE_GRACE_MS);
    await this.closed;
    clearTimeout(dropped);
  }

  #receive(data: RawData, binary: boolean): void {
    this.#touch();
    const bytes = data as Buffer; // ws hands whole messages as one Buffer (binaryType 'nodebuffer')
    try {
      if (binary) this.#audio(bytes);
      else if (bytes.length > MAX_TEXT_BYTES) this.#close(CLOSE.tooBig, `text messages are at most ${MAX_TEXT_BYTES} bytes`);
      else this.#control(bytes.toString('utf8'));
    } catch (error) {
      if (error instanceof ServeError) {
        this.#send({ type: 'error', code: error.code, message: error.message });
      } else {
        this.#deps.log.error({ stream: this.id, err: error }, 'stream message failed');
        this.#close(CLOSE.internal, 'internal error; the message was not processed');
      }
    }
  }

  #audio(bytes: Buffer): void {
    const samples = decodeChunk(bytes, this.#format.type, this.#deps.passes);
    if (samples.length === 0) return;
    this.#turn.append(samples);
    const seconds = samples.length / this.#format.rate;
    this.#audioSeconds += seconds;
    this.#deps.metrics.streamAudio(seconds);
    const wait = this.#pace.take(seconds);
    if (wait > 0) this.#hold(wait);
  }

  /** Stops reading the socket for `ms`: TCP then holds the client back. */
  #hold(ms: number): void {
    clearTimeout(this.#held);
    this.#ws.pause();
    this.#held = setTimeout(() => {
      this.#held = undefined;
      this.#ws.resume();
      this.#touch();
    }, ms);
  }

  #control(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      throw bad(`text messages are JSON, e.g. {"type": "predict", "id": 1}; got ${JSON.stringify(text.slice(0, 40))}`);
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message) || typeof (message as { type?: unknown }).type !== 'string') {
      throw bad('a text message is a JSON object with a "type": "predict" or "reset"');
    }
    const { type, id } = message as { type: string; id?: unknown };
    if (type === 'reset') this.#turn.reset();
    else if (type === 'predict') this.#predict(id);
    else throw bad(`unknown message type ${JSON.stringify(type.slice(0, 40))}: expected "predict" or "reset"`);
  }

  #predict(id: unknown): void {
    if (id === undefined) throw bad('a predict needs an "id" (a string or a number) that its result will carry');
    if (!((typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH) || (typeof id === 'number' && Number.isFinite(id)))) {
      throw bad(`a predict's "id" is a string of 1 to ${MAX_ID_LENGTH} characters or a number, got ${JSON.stringify(id).slice(0, 40)}`);
    }
    const key = JSON.stringify(id);
    const arrived = performance.now();
    const samples = this.#turn.held;
    let outcome: Promise<Predicted>;
    let asked = false;
    if (this.#pending.has(key)) {
      outcome = Promise.reject(bad(`id ${key} is already waiting for its answer: give each predict its own id`));
    } else if (samples === 0) {
      const filling = this.#turn.received > 0 ? ' (the resampler still holds the few samples sent)' : '';
      outcome = Promise.reject(bad(`no audio in this turn yet${filling}: send audio as binary messages before a predict`));
    } else {
      asked = true;
      this.#pending.add(key);
      outcome = predict(this.#deps, () => this.#turn.window(), arrived, this.#gone.signal, 'stream');
    }
    // Settled at once, so that no rejection waits unhandled for the answers asked before it.
    const settled: Promise<Settled> = outcome.then(
      (ok) => ({ ok }),
      (error: unknown) => ({ error }),
    );
    this.#tail = this.#tail
      .then(() => settled)
      .then((s) => {
        if (asked) this.#pending.delete(key);
        this.#answer(id as Id, s, samples, arrived);
      });
  }

  /** Sends a prediction's answer, and its log line (as /raw's request line). */
  #answer(id: Id, settled: Settled, samples: number, arrived: number): void {
    const logged: Record<string, unknown> = { stream: this.id, id, samples };
    if ('ok' in settled) {
      const { answer, result } = settled.ok;
      Object.assign(logged, { batchSize: result.batchSize, bucket: result.bucket, queueWait: result.queueWait, inference: result.inferenceTime });
      this.#predictions++;
      this.#send({ type: 'result', id, ...answer });
    } else {
      const error = settled.error;
      const serve = error instanceof ServeError ? error : new ServeError('INTERNAL', 'internal server error; the prediction was not made', { cause: error });
      if (serve.code === 'INTERNAL' || serve.code === 'BACKEND_FAILED') this.#deps.log.error({ stream: this.id, id, err: serve.cause ?? error }, serve.message);
      logged['error'] = serve.code;
      this.#send({ type: 'error', id, code: serve.code, message: serve.message });
    }
    logged['total'] = (performance.now() - arrived) / 1000;
    this.#deps.log.info(logged, 'predict');
    this.#touch();
  }

  #send(message: Outgoing): void {
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.send(JSON.stringify(message));
  }

  #close(code: number, reason: string): void {
    // A held socket would never read the client's side of the close handshake.
    clearTimeout(this.#held);
    this.#ws.resume();
    this.#ws.close(code, reason);
  }

  /** Restarts the idle clock; a stream waiting for an answer or held back by its pace is not idle. */
  #touch(): void {
    clearTimeout(this.#idle);
    const ms = this.#deps.config.streamIdleTimeoutMs;
    this.#idle = setTimeout(() => {
      if (this.#pending.size > 0 || this.#held !== undefined) this.#touch();
      else this.#close(CLOSE.policy, `no message for ${ms} ms (STREAM_IDLE_TIMEOUT_MS)`);
    }, ms);
  }
}

function bad(message: string): ServeError {
  return new ServeError('BAD_MESSAGE', message);
}
