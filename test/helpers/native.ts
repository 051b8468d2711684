// Shared by the native addon's tests: the fixture model's answer computed in JS, rows written
// straight into lent buffers, and GPU availability with the reason to print when tests skip.
import { TensorRtBackend } from '../../ts/backends/tensorrt.js';
import { loadNative, type NativeAddon, type NativeEngine, type NativeError, type NativeOpenOptions } from '../../ts/lib/native.js';

export const WINDOW = 256_000;

export const addon: NativeAddon = loadNative();

/** TensorRtBackend over one of the addon's TEST executors (the fixture model), as the tests and GPU checks open it. */
export function openTestBackend(options: NativeOpenOptions & { executor: 'test-host' | 'test-cuda' }): Promise<TensorRtBackend> {
  return TensorRtBackend.open({ addon, options, model: `fixture on the ${options.executor} TEST executor`, reason: `TEST executor ${options.executor}` });
}

/** mean-v2: sigmoid(masked_mean(values) + 8 * (sum(mask) / 256000 - 0.5)), in double precision. */
export function meanV2(values: Float32Array, mask: BigInt64Array, row: number): number {
  let total = 0;
  let count = 0;
  for (let i = row * WINDOW; i < (row + 1) * WINDOW; i++) {
    const m = Number(mask[i]);
    total += values[i]! * m;
    count += m;
  }
  const z = total / Math.max(count, 1) + 8 * (count / WINDOW - 0.5);
  return 1 / (1 + Math.exp(-z));
}

/** Row `row` holds `length` samples of a ramp scaled by `scale`, masked past them. */
export function writeRow(values: Float32Array, mask: BigInt64Array, row: number, length: number, scale = 1): void {
  const start = row * WINDOW;
  for (let i = 0; i < WINDOW; i++) {
    values[start + i] = i < length ? scale * ((i % 1000) / 1000 - 0.25) : 0;
    mask[start + i] = i < length ? 1n : 0n;
  }
}

export function views(engine: NativeEngine, slot: number): { values: Float32Array; mask: BigInt64Array } {
  const [values, mask] = engine.buffers(slot);
  return { values: new Float32Array(values!), mask: new BigInt64Array(mask!) };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<NativeError> {
  try {
    await promise;
  } catch (error) {
    return error as NativeError;
  }
  throw new Error('expected a rejection, got a result');
}

/** Undefined when a GPU is usable; else why not, for the skip message. */
export function noGpuReason(): string | undefined {
  const status = addon.status();
  return status.cuda ? undefined : status.reason;
}

export function skipWithoutGpu(ctx: Mocha.Context): void {
  const why = noGpuReason();
  // scripts/gpu_check.sh sets this: on the GPU machine a skip would hide a broken CUDA path.
  if (why !== undefined && process.env['SMART_TURN_REQUIRE_GPU'] === '1') throw new Error(`no GPU: ${why}`);
  if (why !== undefined) {
    console.log(`      skipped: no GPU for the CUDA test executor (${why.split(';')[0]})`);
    ctx.skip();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
