// One batch per bucket before the replica says it is ready: the first run of each shape pays for
// allocation and kernel selection (ONNX Runtime) or graph capture (TensorRT), not a client.
import type { Backend } from '../backends/backend.js';
import type { Clip } from '../model/family.js';

/** Seconds each bucket's first full batch took: an upper bound on its steady-state time. */
export type WarmUpTimes = Map<number, number>;

/** Runs every bucket full of `clip`. */
export async function warmUp(backend: Backend, clip: Clip): Promise<WarmUpTimes> {
  const times: WarmUpTimes = new Map();
  for (const size of backend.buckets) {
    const batch = backend.lease(size);
    for (let slot = 0; slot < size; slot++) clip.write(batch, slot);
    const t0 = performance.now();
    await backend.infer(batch, size);
    times.set(size, (performance.now() - t0) / 1000);
  }
  return times;
}
