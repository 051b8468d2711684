// One batch per bucket before the replica says it is ready: the first run of each shape pays for
// allocation and kernel selection (ONNX Runtime) or graph capture (TensorRT), not a client.
import { SAMPLE_RATE } from '../audio.js';
import type { Backend } from './backend.js';

export async function warmUp(backend: Backend): Promise<void> {
  const second = backend.family.prepare(new Float32Array(SAMPLE_RATE));
  for (const size of backend.buckets) {
    const batch = backend.lease(size);
    for (let slot = 0; slot < size; slot++) second.write(batch, slot);
    await backend.infer(batch, size);
  }
}
