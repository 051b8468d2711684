// One batch per bucket before the replica says it is ready: the first run of each shape pays for
// allocation and kernel selection (ONNX Runtime) or graph capture (TensorRT), not a client.
import { SAMPLE_RATE } from '../audio.js';
import type { Backend } from '../backends/backend.js';

/** Seconds each bucket's first full batch took: an upper bound on its steady-state time. */
export type WarmUpTimes = Map<number, number>;

export async function warmUp(backend: Backend): Promise<WarmUpTimes> {
  const second = backend.family.prepare(new Float32Array(SAMPLE_RATE));
  const times: WarmUpTimes = new Map();
  for (const size of backend.buckets) {
    const batch = backend.lease(size);
    for (let slot = 0; slot < size; slot++) second.write(batch, slot);
    const t0 = performance.now();
    await backend.infer(batch, size);
    times.set(size, (performance.now() - t0) / 1000);
  }
  return times;
}
