// A network link in user space, for benchmarks on loopback (kernel netem is not available): a TCP
// proxy on 127.0.0.1 whose connections all share one emulated link, as a bot host's conversations
// share its link to the turn server. Each direction is a FIFO with a bandwidth cap (bytes leave one
// after another at the link's rate) and a fixed one-way delay after that. The proxy reads as fast as
// its clients write, so a backlog queues here (up to a bound, then the sender is paused), like a
// router's queue; TCP's own congestion window over the emulated RTT is not modelled.
import net from 'node:net';
import { startWorker } from '../../ts/lib/threads.js';
import { spread } from '../../tools/lib/stats.js';

export interface LinkOptions {
  /** Bandwidth per direction, Mbit/s. */
  mbps: number;
  /** Round-trip time: each direction delays by half of it. */
  rttMs: number;
}

/** How late delivery timers fired against their deadline, ms (Node timers have 1 ms resolution). */
export interface Lateness {
  p50: number;
  p99: number;
  count: number;
}

/** What a link is told and reports across a worker boundary. */
export type LinkRequest = { start: LinkOptions & { targetPort: number } } | { stop: true };
export type LinkReply = { port: number } | { lateness: Lateness };

/** Bytes the link may hold for one connection's direction before that connection is not read. */
const MAX_QUEUED = 4 * 1024 * 1024;
/** Large reads are sent in pieces of this size, so that a piece arrives as soon as it is through. */
const PIECE = 16 * 1024;

interface Parcel {
  due: number;
  bytes: Buffer;
  to: net.Socket;
  done(): void;
}

/** One direction of the link, shared by every connection. */
class Direction {
  readonly #bytesPerMs: number;
  readonly #delayMs: number;
  readonly #queue: Parcel[] = [];
  readonly #late: number[];
  #head = 0;
  #free = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: LinkOptions, late: number[]) {
    this.#bytesPerMs = (options.mbps * 1e6) / 8 / 1000;
    this.#delayMs = options.rttMs / 2;
    this.#late = late;
  }

  /** Queues `bytes` for `to`; `done` runs once they are delivered. */
  carry(bytes: Buffer, to: net.Socket, done: () => void): void {
    let at = 0;
    do {
      const piece = bytes.subarray(at, at + PIECE);
      at += PIECE;
      this.#free = Math.max(this.#free, performance.now()) + piece.length / this.#bytesPerMs;
      this.#queue.push({ due: this.#free + this.#delayMs, bytes: piece, to, done: at >= bytes.length ? done : () => undefined });
    } while (at < bytes.length);
    this.#arm();
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#head >= this.#queue.length) return;
    this.#timer = setTimeout(() => this.#deliver(), Math.max(0, this.#queue[this.#head]!.due - performance.now()));
  }

  #deliver(): void {
    this.#timer = undefined;
    const now = performance.now();
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.due <= now) {
      const parcel = this.#queue[this.#head++]!;
      this.#late.push(now - parcel.due);
      if (!parcel.to.destroyed) parcel.to.write(parcel.bytes);
      parcel.done();
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
    this.#arm();
  }
}

export class Link {
  readonly #server: net.Server;
  readonly #up: Direction;
  readonly #down: Direction;
  readonly #sockets = new Set<net.Socket>();
  readonly #late: number[] = [];

  private constructor(server: net.Server, options: LinkOptions) {
    this.#server = server;
    this.#up = new Direction(options, this.#late);
    this.#down = new Direction(options, this.#late);
  }

  /** A proxy on 127.0.0.1 (port 0: any) to `targetPort` on 127.0.0.1. */
  static async start(targetPort: number, options: LinkOptions): Promise<Link & { port: number }> {
    const server = net.createServer();
    const link = new Link(server, options);
    server.on('connection', (client) => link.#connect(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return Object.assign(link, { port: (server.address() as net.AddressInfo).port });
  }

  lateness(): Lateness {
    const s = spread(this.#late);
    return { p50: s?.p50 ?? 0, p99: s?.p99 ?? 0, count: s?.n ?? 0 };
  }

  async close(): Promise<void> {
    this.#up.stop();
    this.#down.stop();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #connect(client: net.Socket, targetPort: number): void {
    const server = net.connect(targetPort, '127.0.0.1');
    for (const socket of [client, server]) {
      socket.setNoDelay(true);
      this.#sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        server.destroy();
      });
    }
    this.#pipe(client, server, this.#up);
    this.#pipe(server, client, this.#down);
  }

  #pipe(from: net.Socket, to: net.Socket, direction: Direction): void {
    let queued = 0;
    from.on('data', (bytes: Buffer) => {
      queued += bytes.length;
      if (queued > MAX_QUEUED) from.pause();
      direction.carry(bytes, to, () => {
        queued -= bytes.length;
        if (queued <= MAX_QUEUED && from.isPaused()) from.resume();
      });
    });
    // Half-closes travel the link too, after the bytes before them.
    from.on('end', () => direction.carry(Buffer.alloc(0), to, () => to.end()));
  }
}

/**
 * A Link on a worker thread of its own, so that its delivery timers do not wait behind the load
 * generator's work. `close` stops it and returns its timers' lateness.
 */
export async function linkThread(targetPort: number, options: LinkOptions): Promise<{ port: number; close(): Promise<Lateness> }> {
  const worker = startWorker('link-worker', import.meta.url);
  const reply = (): Promise<LinkReply> => new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const started = reply();
  worker.postMessage({ start: { ...options, targetPort } } satisfies LinkRequest);
  const { port } = (await started) as { port: number };
  return {
    port,
    close: async () => {
      const stopped = reply();
      worker.postMessage({ stop: true } satisfies LinkRequest);
      const { lateness } = (await stopped) as { lateness: Lateness };
      await worker.terminate();
      return lateness;
    },
  };
}
