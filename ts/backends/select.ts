// Which backend serves, and why: said once in the start-up log. BACKEND=auto takes TensorRT when the
// addon, a GPU, TensorRT and matching engines are all there, and ONNX Runtime on the CPU otherwise.
import path from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { DEFAULT_MODEL_ID, resolveModel } from '../model/resolve.js';
import type { Backend } from './backend.js';
import { OnnxBackend } from './onnx.js';
import { TensorRtBackend, tensorRtAvailability, type EngineLocation } from './tensorrt.js';

export async function openBackend(config: Config, log: Logger): Promise<Backend> {
  let why = 'BACKEND=onnx';
  if (config.backend !== 'onnx') {
    const where = engineLocation(config);
    const trt = await tensorRtAvailability(where);
    if (trt.available) {
      const backend = await TensorRtBackend.open({ ...where, cudaGraphs: config.cudaGraphs, reason: `BACKEND=${config.backend}: ${trt.reason}` });
      log.info({ description: backend.description }, 'TensorRT engines loaded');
      return backend;
    }
    if (config.backend === 'tensorrt') throw new Error(`BACKEND=tensorrt, but TensorRT cannot serve: ${trt.reason}`);
    why = `BACKEND=auto: ONNX Runtime on the CPU, since TensorRT cannot serve (${trt.reason})`;
  }
  const model = await resolveModel(config, 'onnx', { ...config.hub, log: (line) => log.info(line) });
  return OnnxBackend.open({
    modelPath: model.path,
    buckets: config.batchBuckets,
    intraOpThreads: config.ortIntraOpThreads,
    interOpThreads: config.ortInterOpThreads,
    reason: `${why}; model: ${model.reason}`,
  });
}

/**
 * Where `npm run build:engines` put the plans for the configured model: named after MODEL_PATH's file
 * (and checked against its hash) or after the model id. Nothing is downloaded to find out.
 */
export function engineLocation(config: Config): EngineLocation {
  const model = config.modelPath ? path.basename(config.modelPath, '.onnx') : (config.modelId ?? DEFAULT_MODEL_ID.tensorrt);
  return { enginesDir: config.enginesDir, model, dtype: config.dtype, onnxPath: config.modelPath, buckets: config.batchBuckets };
}
