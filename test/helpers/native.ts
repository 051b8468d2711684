// Shared by the native addon's tests: the addon (or why it is missing), rows written straight into
// lent buffers, and GPU availability with the reason to print when tests skip.
import { TensorRtBackend } from '../../ts/backends/tensorrt.js';
import { tryLoadNative, type NativeAddon, type NativeEngine, type NativeError, type NativeOpenOptions } from '../../ts/lib/native.js';

export const WINDOW = 256_000;

const loaded = tryLoadNative();

/** TensorRtBackend over one of the addon's TEST executors (the readout-v2 fixture), as the tests and GPU checks open it. */
export function openTestBackend(addon: NativeAddon, options: NativeOpenOptions & { executor: 'test-host' | 'test-cuda' }): Promise<TensorRtBackend> {
  return TensorRtBackend.open({ addon, options, model: `fixture on the ${options.executor} TEST executor`, reason: `TEST executor ${options.executor}` });
}

/**
 * The addon, for suites that need it; on a machine without it (SMART_TURN_SKIP_NATIVE=1, no compiler,
 * a failed build) the calling suite skips, saying why. Call it from a `before` hook. .ci/run's main
 * run sets SMART_TURN_REQUIRE_NATIVE=1, where a skip would hide a broken build.
 */
export function requireAddon(ctx: Mocha.Context): NativeAddon {
  if (loaded.addon) return loaded.addon;
  if (process.env['SMART_TURN_REQUIRE_NATIVE'] === '1') throw new Error(`SMART_TURN_REQUIRE_NATIVE=1, but ${loaded.reason}`);
  console.log(`      skipped: ${loaded.reason}`);
  ctx.skip();
}

/** Whether the addon loads here, for single tests that compare against it. */
export const hasAddon = loaded.addon !== undefined;

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
function noGpuReason(addon: NativeAddon): string | undefined {
  const status = addon.status();
  return status.cuda ? undefined : status.reason;
}

export function skipWithoutGpu(ctx: Mocha.Context): NativeAddon {
  const addon = requireAddon(ctx);
  const why = noGpuReason(addon);
  // scripts/gpu_check.sh sets this: on the GPU machine a skip would hide a broken CUDA path.
  if (why !== undefined && process.env['SMART_TURN_REQUIRE_GPU'] === '1') throw new Error(`no GPU: ${why}`);
  if (why !== undefined) {
    console.log(`      skipped: no GPU for the CUDA test executor (${why.split(';')[0]})`);
    ctx.skip();
  }
  return addon;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
