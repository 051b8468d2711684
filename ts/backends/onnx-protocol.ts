// Messages between OnnxBackend (main thread) and its session thread (onnx-worker.ts). A batch's
// input memory is transferred to the session thread and back with the answer: ownership moves, bytes
// are not copied. (onnxruntime-node refuses SharedArrayBuffer-backed tensors: "Invalid argument".)
import type { TensorType } from '../tensor.js';

export interface WorkerInit {
  modelPath: string;
  intraOpThreads: number;
  interOpThreads: number;
}

export interface WireInput {
  name: string;
  type: TensorType;
  buffer: ArrayBuffer;
  dims: number[];
}

export type ToWorker = { type: 'run'; job: number; inputs: WireInput[] } | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; inputNames: string[]; outputNames: string[] }
  | { type: 'failed'; message: string }
  | { type: 'result'; job: number; probabilities: Float32Array; inputs: WireInput[] }
  | { type: 'error'; job: number; message: string; inputs: WireInput[] };
