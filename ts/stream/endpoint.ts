// GET /stream: WebSocket upgrades on the HTTP server. An upgrade is admitted or refused (path, drain,
// key, query, stream count) before the handshake, with the status and JSON error a POST would get;
// an admitted one becomes a StreamSession with its own turn. A stream at a rate other than 16 kHz gets
// its own streaming resampler.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { SAMPLE_RATE } from '../audio.js';
import { ServeError } from '../errors.js';
import { keyCheck } from '../http/auth.js';
import type { Readiness } from '../readiness.js';
import { StreamResampler } from '../resample.js';
import { StreamSession, type SessionDeps } from './session.js';
import { parseFormat, Turn, type AudioFormat } from './turn.js';

export interface StreamDeps extends SessionDeps {
  readiness: Readiness;
}

export class StreamEndpoint {
  readonly #deps: StreamDeps;
  readonly #wss: WebSocketServer;
  readonly #checkKey: (header: string, path: string) => void;
  readonly #sessions = new Set<StreamSession>();
  #closing = false;
  #next = 0;

  constructor(server: http.Server, deps: StreamDeps) {
    this.#deps = deps;
    this.#checkKey = keyCheck(deps.config.authKey, 'AUTH_KEY');
    const maxPayload = deps.config.streamMaxMessageBytes;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload, clientTracking: false, WebSocket: socketWithReasons(maxPayload) });
    // A request that is not a handshake ws can complete (bad key, version, method): our JSON, not ws's text.
    this.#wss.on('wsClientError', (error, socket) => {
      this.#refuse(socket, new ServeError('UPGRADE_REQUIRED', `not a WebSocket handshake this server accepts: ${error.message}`), '/stream');
    });
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void this.#upgrade(req, socket, head));
  }

  /** Open streams. */
  get active(): number {
    return this.#sessions.size;
  }

  /** Refuses new streams, answers every open stream's pending predictions, then closes them (1001). */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#sessions].map((session) => session.finish()));
  }

  async #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => undefined); // a client that resets mid-handshake is no error of ours
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    let format: AudioFormat;
    try {
      format = this.#admit(req);
    } catch (error) {
      this.#refuse(socket, error, path);
      return;
    }

    let resampler: StreamResampler | undefined;
    let left = false;
    const leave = (): void => {
      left = true;
      resampler?.close();
    };
    socket.once('close', leave);
    try {
      if (format.rate !== SAMPLE_RATE) resampler = await StreamResampler.create(format.rate);
      if (left) return void resampler?.close(); // the client left while its resampler was made
      // Admitted before the await: check again, as other upgrades may have opened meanwhile. From here
      // to the session's start nothing is awaited.
      this.#checkRoom();
      if (this.#closing) throw shuttingDown();
    } catch (error) {
      this.#refuse(socket, error, path);
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('close', leave);
      const { log, metrics, preparer } = this.#deps;
      const session = new StreamSession(ws, new Turn(preparer.windowSamples, resampler), format, this.#deps, `s${++this.#next}`);
      this.#sessions.add(session);
      metrics.streams(1);
      log.info({ stream: session.id, rate: format.rate, sampleType: format.type }, 'stream open');
      void session.closed.then(() => {
        this.#sessions.delete(session);
        metrics.streams(-1);
      });
    });
  }

  /** The stream's audio format; throws the ServeError to refuse the upgrade with. */
  #admit(req: http.IncomingMessage): AudioFormat {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/stream') throw new ServeError('NOT_FOUND', `no WebSocket at ${url.pathname}; streams connect to GET /stream`);
    if (this.#closing || this.#deps.readiness.draining) throw shuttingDown();
    this.#checkKey(req.headers.authorization ?? '', url.pathname);
    const format = parseFormat(url.searchParams);
    this.#checkRoom();
    return format;
  }

  #checkRoom(): void {
    const max = this.#deps.config.maxStreams;
    if (this.#sessions.size >= max) {
      throw new ServeError('TOO_MANY_STREAMS', `this server has its ${max} streams open (MAX_STREAMS); retry shortly or on another replica`, { retryAfter: 1 });
    }
  }

  /** Answers the upgrade request with the error's status and JSON body, as a POST would be, and closes. */
  #refuse(socket: Duplex, error: unknown, path: string): void {
    const serve = error instanceof ServeError ? error : new ServeError('INTERNAL', 'internal server error; the stream was not opened', { cause: error });
    if (serve.code === 'INTERNAL') this.#deps.log.error({ err: serve.cause }, 'stream upgrade failed');
    this.#deps.log.info({ method: 'GET', path, status: serve.status, error: serve.code }, 'stream refused');
    if (!socket.writable) return void socket.destroy();
    const body = JSON.stringify({ error: { code: serve.code, message: serve.message } });
    const headers = [
      `HTTP/1.1 ${serve.status} ${http.STATUS_CODES[serve.status] ?? ''}`,
      'Connection: close',
      'Content-Type: application/json; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      ...(serve.retryAfter === undefined ? [] : [`Retry-After: ${serve.retryAfter}`]),
      ...(serve.code === 'UPGRADE_REQUIRED' ? ['Upgrade: websocket', 'Sec-WebSocket-Version: 13'] : []),
    ];
    // Nothing follows an upgrade request's headers, so closing after the answer loses nothing unread.
    socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
  }
}

/**
 * ws closes a connection itself when a frame breaks the protocol, is too big (checked from its header,
 * before it is read) or is text that is not UTF-8, but gives no reason: these sockets do.
 */
function socketWithReasons(maxBytes: number): typeof WebSocket {
  const reasons: Record<number, string> = {
    1002: 'WebSocket protocol error',
    1007: 'text messages must be valid UTF-8',
    1009: `messages are at most ${maxBytes} bytes (STREAM_MAX_MESSAGE_BYTES)`,
  };
  return class extends WebSocket {
    override close(code?: number, reason?: string | Buffer): void {
      super.close(code, reason ?? (code === undefined ? undefined : reasons[code]));
    }
  };
}

function shuttingDown(): ServeError {
  return new ServeError('SHUTTING_DOWN', 'the server is shutting down; retry on another replica', { retryAfter: 1 });
}
