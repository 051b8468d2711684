// How many times a request's float32 .npy payload is copied between the socket and the batch. The
// budget: once into the body buffer as the socket's chunks arrive (a pooled buffer of the size class
// of Content-Length; chunked bodies: raw-body's Buffer.concat), then exactly once more, normalized,
// into the batch's input row. decodeNpy must return a view of the body, which needs its data 4-byte
// aligned.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import Koa from 'koa';
import type { Batch } from '../ts/tensor.js';
import { readAudioBody } from '../ts/http/body.js';
import { smartTurnV2 } from '../ts/model/v2.js';
import { decodeNpy } from '../ts/npy.js';
import { moments } from '../ts/audio.js';
import { samplePasses } from '../ts/lib/samples.js';
import { npyBody } from '../bench/lib/bench.js';
import { ZeroCostBackend } from '../bench/lib/zero-cost-backend.js';
import { post, startTestService } from './helpers/service.js';

const WINDOW = 256_000;
/** Copies smaller than this are headers, JSON and bookkeeping, not the payload. */
const PAYLOAD_SIZED = 16 * 1024;

interface Copy {
  how: string;
  bytes: number;
}

/**
 * Records every payload-sized copy or fresh typed-array allocation made through the public JS entry
 * points while `run` runs. V8 builtins and Node internals that hold their own references (primordials)
 * are not seen; Buffer.concat, which raw-body calls, is.
 */
async function recordCopies<T>(run: () => Promise<T>): Promise<{ copies: Copy[]; result: T }> {
  const copies: Copy[] = [];
  // Buffer#copy is how the body is read, chunk by chunk, and the first and last chunks may be small.
  const note = (how: string, bytes: number): void => {
    if (bytes >= PAYLOAD_SIZED || how === 'Buffer#copy') copies.push({ how, bytes });
  };
  const restore: Array<() => void> = [];
  const patch = <O extends object, K extends keyof O>(owner: O, key: K, wrap: (original: O[K]) => O[K]): void => {
    const original = owner[key];
    owner[key] = wrap(original);
    restore.push(() => (owner[key] = original));
  };
  const typed = Object.getPrototypeOf(Uint8Array.prototype) as { set: Function; slice: Function };
  patch(Buffer, 'concat', (original) =>
    ((list: readonly Uint8Array[], length?: number) => {
      const out = original(list, length);
      note('Buffer.concat', out.length);
      return out;
    }) as typeof Buffer.concat,
  );
  patch(Buffer.prototype, 'copy', (original) =>
    function (this: Buffer, ...args: Parameters<Buffer['copy']>) {
      const n = original.apply(this, args);
      note('Buffer#copy', n);
      return n;
    } as Buffer['copy'],
  );
  patch(typed, 'set', (original) =>
    function (this: ArrayBufferView, source: ArrayLike<number> & { byteLength?: number }, offset?: number) {
      note('TypedArray#set', source.byteLength ?? source.length);
      return original.call(this, source, offset);
    },
  );
  patch(typed, 'slice', (original) =>
    function (this: ArrayBufferView, ...args: unknown[]) {
      const out = original.apply(this, args) as ArrayBufferView;
      note('TypedArray#slice', out.byteLength);
      return out;
    },
  );
  // `new Float32Array(n)` or `(arrayLike)` allocates; `(arrayBuffer, offset, length)` is a view.
  patch(globalThis, 'Float32Array', (original) =>
    new Proxy(original, {
      construct(target, args: unknown[]) {
        const made = Reflect.construct(target, args) as Float32Array;
        if (!(args[0] instanceof ArrayBuffer || args[0] instanceof SharedArrayBuffer)) note('new Float32Array', made.byteLength);
        return made;
      },
    }),
  );
  try {
    const result = await run();
    return { copies, result };
  } finally {
    restore.reverse().forEach((undo) => undo());
  }
}

const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function expectedRow(body: Buffer): Float32Array {
  const { samples } = decodeNpy(Buffer.from(body));
  const window = samples.subarray(Math.max(0, samples.length - WINDOW));
  const m = moments(window, 1e-7, samplePasses());
  return Float32Array.from(window, (x) => (x - m.mean) * m.invStd);
}

describe('copies of a payload', () => {
  describe('the body buffer', () => {
    let server: http.Server;
    let url: string;
    const seen: Array<{ zeroCopy: boolean; aligned: boolean; shared: boolean }> = [];
    const memory: ArrayBufferLike[] = [];

    before(async () => {
      const app = new Koa();
      app.use(async (ctx) => {
        const body = await readAudioBody(ctx, 8 << 20);
        const { samples, zeroCopy } = decodeNpy(body);
        seen.push({ zeroCopy, aligned: (body.byteOffset + 128) % 4 === 0, shared: samples.buffer === body.buffer });
        memory.push(body.buffer);
        ctx.body = { ok: true };
      });
      server = http.createServer(app.callback());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    beforeEach(() => (seen.length = 0));

    // Bodies with a Content-Length land at offset 0 of a pooled ArrayBuffer; chunked ones in
    // Buffer.concat's result (a slice of Node's 8-byte-aligned pool when small, its own ArrayBuffer
    // when large). np.save pads its header to 64 bytes, so the data stays aligned either way.
    for (const bytes of [1024, 4096, 64 * 1024 + 4, 512 * 1024, 1024 * 1024]) {
      it(`decodes a ${bytes}-byte body in place, as a view of the body`, async () => {
        const answer = await post(url, npyBody(bytes));
        expect(answer.status).to.equal(200);
        expect(seen).to.deep.equal([{ zeroCopy: true, aligned: true, shared: true }]);
      });
    }

    it('reuses the body memory of a finished request for the next one', async () => {
      memory.length = 0;
      for (let i = 0; i < 3; i++) expect((await post(url, npyBody(1024 * 1024 - 4 * i))).status).to.equal(200);
      expect(new Set(memory).size).to.equal(1);
    });

    it('decodes a chunked (no Content-Length) body in place too', async () => {
      const body = npyBody(256 * 1024);
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: new ReadableStream({
          start(controller) {
            for (let at = 0; at < body.length; at += 10_000) controller.enqueue(body.subarray(at, at + 10_000));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      expect(response.status).to.equal(200);
      expect(seen).to.deep.equal([{ zeroCopy: true, aligned: true, shared: true }]);
    });
  });

  describe('socket to batch, through the server', () => {
    it('would see a decoding copy (control: big-endian samples must be converted)', async () => {
      const body = npyBody(64 * 1024);
      body.write('>', body.indexOf("'<f4'") + 1, 'latin1');
      body.subarray(128).swap32();
      const { copies } = await recordCopies(async () => decodeNpy(body));
      expect(copies).to.deep.equal([{ how: 'new Float32Array', bytes: body.length - 128 }]);
    });


    it('copies a 1 MiB float32 payload once into the body and once, normalized, into the batch', async () => {
      const backend = new ZeroCostBackend();
      const service = await startTestService({}, backend);
      try {
        const body = npyBody(1024 * 1024);
        const expected = expectedRow(body);
        // Compared in place, when the batch runs: a snapshot would itself be a copy.
        let matchingRows = 0;
        backend.onInfer = (batch: Batch, count: number) => {
          const values = batch.inputs['input_values'] as Float32Array;
          for (let slot = 0; slot < count; slot++) {
            let same = true;
            for (let i = 0; i < WINDOW && same; i++) same = values[slot * WINDOW + i] === expected[i];
            if (same) matchingRows++;
          }
        };
        const { copies, result } = await recordCopies(() => post(`${service.url}/raw`, body));
        expect(result.status).to.equal(200);
        // The one copy on the read side (chunk by chunk, into the body buffer), and nothing
        // payload-sized between the body and the batch.
        expect(new Set(copies.map((c) => c.how))).to.deep.equal(new Set(['Buffer#copy']));
        expect(copies.reduce((n, c) => n + c.bytes, 0)).to.equal(body.length);
        // The batch row holds exactly the normalized last 16 s: the second and last copy.
        expect(matchingRows).to.equal(1);
      } finally {
        await service.stop();
      }
    });
  });

  describe('reused batch rows', () => {
    // v2 rewrites only the span between a row's previous and new length; every sequence must leave
    // the row exactly as a fresh write would.
    const lengths = [WINDOW, 16_000, 48_000, WINDOW, 1, 200_000];
    it('leave each row as a fresh write of the same clip would', () => {
      const fresh = (): Batch => ({
        size: 2,
        inputs: { input_values: new Float32Array(2 * WINDOW), attention_mask: new BigInt64Array(2 * WINDOW) },
      });
      const reused = fresh();
      lengths.forEach((n, i) => {
        const clip = smartTurnV2.prepare(Float32Array.from({ length: n }, (_, k) => Math.sin(k + i)));
        if (i === 3) smartTurnV2.clear(reused, 1);
        clip.write(reused, 1);
        const reference = fresh();
        clip.write(reference, 1);
        for (const name of ['input_values', 'attention_mask']) {
          expect(bytesOf(reused.inputs[name]!.subarray(WINDOW)).equals(bytesOf(reference.inputs[name]!.subarray(WINDOW))), `${name} after clip ${i}`).to.equal(true);
        }
      });
    });
  });
});
