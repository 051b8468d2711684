// The ONNX Runtime session's own thread. onnxruntime-node runs a session synchronously on the calling
// thread (1.30: `run` is a sync native call inside setImmediate), which on the main thread would
// freeze HTTP, batch formation and deadlines for the length of every batch.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { sessionOptions, type FromWorker, type ToWorker, type WireInput, type WorkerInit } from './onnx-protocol.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const send = (message: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

function tensor(input: WireInput): ort.Tensor {
  const elements = input.dims.reduce((a, b) => a * b, 1);
  const data = input.type === 'float32' ? new Float32Array(input.buffer, 0, elements) : new BigInt64Array(input.buffer, 0, elements);
  return new ort.Tensor(input.type, data, input.dims);
}

try {
  const session = await ort.InferenceSession.create(init.modelPath, sessionOptions(init));
  send({ type: 'ready', inputNames: [...session.inputNames], outputNames: [...session.outputNames] });
  const output = session.outputNames[0]!;

  port.on('message', async (message: ToWorker) => {
    if (message.type === 'close') {
      await session.release();
      port.close();
      return;
    }
    const { job, inputs } = message;
    const buffers = inputs.map((i) => i.buffer); // handed back whatever happens
    try {
      const feeds = Object.fromEntries(inputs.map((input) => [input.name, tensor(input)]));
      const result = await session.run(feeds, [output]);
      const out = result[output]!;
      const rows = inputs[0]!.dims[0]!;
      if (out.type !== 'float32' || out.size !== rows) {
        throw new Error(`model output ${output} is ${out.type}[${out.dims.join(', ')}], expected float32[${rows}, 1]`);
      }
      const probabilities = Float32Array.from(out.data as Float32Array);
      send({ type: 'result', job, probabilities, inputs }, [probabilities.buffer, ...buffers]);
    } catch (error) {
      send({ type: 'error', job, message: error instanceof Error ? error.message : String(error), inputs }, buffers);
    }
  });
} catch (error) {
  send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
}
