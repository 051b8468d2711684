// Which backend serves, and why: said once in the start-up log.
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Backend } from './backend.js';
import { OnnxBackend } from './onnx.js';

export async function openBackend(config: Config, log: Logger): Promise<Backend> {
  void log;
  if (config.backend === 'tensorrt') throw new Error('BACKEND=tensorrt: the TensorRT backend is not built yet');
  if (!config.modelPath) throw new Error('MODEL_PATH: set it to a local ONNX file (Hub download by MODEL_ID is not built yet)');
  return OnnxBackend.open({
    modelPath: config.modelPath,
    buckets: config.batchBuckets,
    intraOpThreads: config.ortIntraOpThreads,
    interOpThreads: config.ortInterOpThreads,
    reason: config.backend === 'onnx' ? 'BACKEND=onnx' : 'BACKEND=auto: ONNX Runtime CPU (TensorRT not available)',
  });
}
