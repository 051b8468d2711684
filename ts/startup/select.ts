// Which backend serves, and why: said once in the start-up log. BACKEND=auto takes TensorRT when the
// addon, a GPU, TensorRT and matching engines are all there, and ONNX Runtime on the CPU otherwise.
import path from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { DEFAULT_MODEL_ID, resolveModel } from './resolve.js';
import type { Backend } from '../backends/backend.js';
import { OnnxBackend } from '../backends/onnx.js';
import { cpuPlan, describePlan } from './cpu-plan.js';
import { TensorRtBackend } from '../backends/tensorrt.js';
import { findEngines, type EngineLocation } from './engines.js';

export async function openBackend(config: Config, log: Logger): Promise<Backend> {
  let why = 'BACKEND=onnx';
  if (config.backend !== 'onnx') {
    const found = await findEngines(engineLocation(config));
    if (found.ok) {
      const backend = await TensorRtBackend.open({
        addon: found.addon,
        options: { executor: 'tensorrt', buckets: found.buckets, plans: found.plans, cudaGraphs: config.cudaGraphs, device: config.cudaDevice },
        model: `${found.manifest.model} (${found.manifest.dtype}, ${found.dir})`,
        reason: `BACKEND=${config.backend}: ${found.reason}`,
      });
      log.info({ description: backend.description }, 'TensorRT engines loaded');
      log.info({ memory: backend.memory }, backend.memory.description);
      return backend;
    }
    if (config.backend === 'tensorrt') throw new Error(`BACKEND=tensorrt, but TensorRT cannot serve: ${found.reason}`);
    why = `BACKEND=auto: ONNX Runtime on the CPU, since TensorRT cannot serve (${found.reason})`;
  }
  const model = await resolveModel(config, 'onnx', { ...config.hub, log: (line) => log.info(line) });
  const plan = cpuPlan(config);
  log.info({ plan }, `CPU plan: ${describePlan(plan)}`);
  return OnnxBackend.open({
    modelPath: model.path,
    buckets: plan.buckets,
    intraOpThreads: plan.intraOpThreads,
    interOpThreads: plan.interOpThreads,
    allowSpinning: plan.allowSpinning,
    reason: `${why}; model: ${model.reason}`,
  });
}

/**
 * Where `npm run build:engines` put the plans for the configured model: named after MODEL_PATH's file
 * (and checked against its hash) or after the model id. Nothing is downloaded to find out.
 */
export function engineLocation(config: Config): EngineLocation {
  const model = config.modelPath ? path.basename(config.modelPath, '.onnx') : (config.modelId ?? DEFAULT_MODEL_ID.tensorrt);
  return {
    enginesDir: config.enginesDir,
    model,
    dtype: config.dtype,
    onnxPath: config.modelPath,
    buckets: config.batchBuckets,
    device: config.cudaDevice,
    tensorrtLibDir: config.tensorrtLibDir,
  };
}
