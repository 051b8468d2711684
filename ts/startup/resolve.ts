// Which ONNX file a backend loads, decided once at start-up, with the reason logged:
//   MODEL_PATH (a local file) wins; otherwise MODEL_ID (+ MODEL_REVISION, MODEL_FILE) from the Hub cache
//   or a download; otherwise the backend's default: smart-turn v3 on ONNX Runtime CPU (small, int8,
//   upstream's own CPU file), smart-turn v2 on TensorRT (the original server's model), which upstream
//   publishes as PyTorch weights only, so it comes from `npm run export:model`.
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { BackendName, Config } from '../config.js';
import { ConfigError } from '../errors.js';
import { hubDownload, type HubOptions } from './hub.js';

export interface ResolvedModel {
  /** The ONNX file to load. */
  path: string;
  /** Undefined when MODEL_PATH named the file. */
  modelId: string | undefined;
  revision: string | undefined;
  file: string | undefined;
  /** The commit the file came from, when it came from the Hub. */
  commit: string | undefined;
  /** MODEL_PATH: named by the operator; cache/download: from the Hub; export: `npm run export:model`'s output. */
  source: 'MODEL_PATH' | 'cache' | 'download' | 'export';
  /** One line for the start-up log. */
  reason: string;
}

export const DEFAULT_MODEL_ID: Readonly<Record<BackendName, string>> = {
  onnx: 'pipecat-ai/smart-turn-v3',
  tensorrt: 'pipecat-ai/smart-turn-v2',
};

/**
 * The file to take from a known repo when MODEL_FILE is unset. smart-turn-v3's names are those pipecat
 * bundles (local_smart_turn_v3.py) and the model card lists: int8 for CPUs, fp32 for GPUs.
 */
export const DEFAULT_FILES: Readonly<Record<string, Readonly<Record<BackendName, string>>>> = {
  'pipecat-ai/smart-turn-v3': { onnx: 'smart-turn-v3.2-cpu.onnx', tensorrt: 'smart-turn-v3.2-gpu.onnx' },
};

/** Where `npm run export:model` writes smart-turn v2 by default (scripts/export_v2.py). */
export const V2_EXPORT_PATH = 'models/smart-turn-v2.onnx';
const V2_ID = 'pipecat-ai/smart-turn-v2';

export type ModelConfig = Pick<Config, 'modelId' | 'modelRevision' | 'modelFile' | 'modelPath'>;

export async function resolveModel(
  config: ModelConfig,
  backend: BackendName,
  hub: HubOptions,
  cwd: string = process.cwd(),
): Promise<ResolvedModel> {
  if (config.modelPath !== undefined) {
    const file = path.resolve(cwd, config.modelPath);
    if (!(await isFile(file))) throw new ConfigError('MODEL_PATH', `no such file: ${file}`);
    const ignored = config.modelId !== undefined ? ` (MODEL_ID=${config.modelId} ignored)` : '';
    return {
      path: file,
      modelId: undefined,
      revision: undefined,
      file: undefined,
      commit: undefined,
      source: 'MODEL_PATH',
      reason: `MODEL_PATH=${config.modelPath}${ignored}`,
    };
  }

  const modelId = config.modelId ?? DEFAULT_MODEL_ID[backend];
  const why = config.modelId !== undefined ? `MODEL_ID=${modelId}` : `MODEL_ID unset: ${modelId} is the ${backend} backend's default`;

  if (modelId === V2_ID && config.modelFile === undefined) {
    // Upstream has no ONNX file for v2: its weights go through scripts/export_v2.py first.
    const exported = path.resolve(cwd, V2_EXPORT_PATH);
    if (!(await isFile(exported))) {
      throw new ConfigError(
        config.modelId !== undefined ? 'MODEL_ID' : 'MODEL_PATH',
        `${V2_ID} publishes PyTorch weights only: run \`npm run export:model\` (writes ${V2_EXPORT_PATH}), ` +
          'or set MODEL_PATH to an exported ONNX file, or MODEL_FILE to an ONNX file in that repo',
      );
    }
    return {
      path: exported,
      modelId,
      revision: undefined,
      file: undefined,
      commit: undefined,
      source: 'export',
      reason: `${why}; using its ONNX export at ${V2_EXPORT_PATH}`,
    };
  }

  const file = config.modelFile ?? DEFAULT_FILES[modelId]?.[backend] ?? 'model.onnx';
  const fileWhy = config.modelFile !== undefined ? '' : ' (MODEL_FILE unset)';
  const got = await hubDownload(modelId, file, config.modelRevision, hub);
  const from = got.source === 'download' ? `downloaded from ${hub.endpoint}` : 'from the cache';
  return {
    path: got.path,
    modelId,
    revision: config.modelRevision,
    file,
    commit: got.commit,
    source: got.source,
    reason: `${why}; ${file}${fileWhy} at ${config.modelRevision} (commit ${got.commit.slice(0, 12)}), ${from}`,
  };
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}
