// Messages between OnnxBackend (main thread) and its session thread (onnx-worker.ts), and what that
// thread creates its session with. A batch's input memory is transferred to the session thread and back
// with the answer: ownership moves, bytes are not copied. (onnxruntime-node refuses
// SharedArrayBuffer-backed tensors: "Invalid argument".)
import type { InferenceSession } from 'onnxruntime-node';
import type { TensorType } from '../tensor.js';

export interface WorkerInit {
  modelPath: string;
  intraOpThreads: number;
  interOpThreads: number;
  /** Undefined: ONNX Runtime's default. */
  allowSpinning: boolean | undefined;
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

const SPINNING_KEYS = ['session.intra_op.allow_spinning', 'session.inter_op.allow_spinning'];

/** What the session thread creates its session with (bench:e2e times a plain session made the same way). */
export function sessionOptions(init: WorkerInit): InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: init.intraOpThreads,
    interOpNumThreads: init.interOpThreads,
    // Session configuration entries (onnxruntime_session_options_config_keys.h), strings in the Node binding.
    extra: init.allowSpinning === undefined ? {} : Object.fromEntries(SPINNING_KEYS.map((key) => [key, init.allowSpinning ? '1' : '0'])),
  };
}
