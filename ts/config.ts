// Configuration from the environment, parsed once at start-up. A bad value throws a ConfigError
// naming the variable; nothing downstream re-validates.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { ConfigError } from './errors.js';
import type { SamplePassesChoice } from './samples.js';

export type BackendChoice = 'auto' | 'onnx' | 'tensorrt';
export type Dtype = 'bfloat16' | 'float16' | 'float32';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  host: string;
  port: number;
  authKey: string | undefined;
  metricsAuthKey: string | undefined;
  /** Undefined: the backend's own default (small on CPU, 16/32/64 on GPU). */
  batchBuckets: number[] | undefined;
  microBatchWindowMs: number;
  threshold: number;
  dtype: Dtype;
  backend: BackendChoice;
  cudaGraphs: boolean;
  /** Undefined: the backend's default model (v3 on ONNX Runtime CPU, v2 on TensorRT). */
  modelId: string | undefined;
  modelRevision: string;
  modelFile: string | undefined;
  modelPath: string | undefined;
  enginesDir: string;
  maxBodyBytes: number;
  /** Undefined: what the backend finishes in maxQueueDelayMs, measured at warm-up (see service). */
  maxQueue: number | undefined;
  maxQueueDelayMs: number;
  requestTimeoutMs: number;
  shutdownTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  maxConnections: number;
  ortIntraOpThreads: number;
  ortInterOpThreads: number;
  /** Where the per-sample passes run: the native addon's SIMD C++ when it loads (auto), or JavaScript. */
  samplePasses: SamplePassesChoice;
  logLevel: LogLevel;
  hub: HubSettings;
}

/** The Hugging Face Hub variables, with the defaults huggingface_hub's constants.py uses. */
export interface HubSettings {
  /** HF_ENDPOINT, without a trailing slash. */
  endpoint: string;
  /** HF_TOKEN, else the token file (HF_TOKEN_PATH, or $HF_HOME/token) huggingface-cli login writes. */
  token: string | undefined;
  /** HF_HUB_CACHE (or HUGGINGFACE_HUB_CACHE): the folder holding models--org--name folders. */
  cacheDir: string;
  /** HF_HUB_OFFLINE: no network at all, only the cache answers. */
  offline: boolean;
  /** HF_HUB_ETAG_TIMEOUT (seconds in the variable): the metadata (HEAD) request. */
  etagTimeoutMs: number;
  /** HF_HUB_DOWNLOAD_TIMEOUT (seconds in the variable): the longest wait for a download's next bytes. */
  downloadTimeoutMs: number;
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  const r = new Reader(env);
  return {
    host: r.string('HOST', '0.0.0.0'),
    port: r.int('PORT', 8000, 0, 65535),
    authKey: r.optionalString('AUTH_KEY'),
    metricsAuthKey: r.optionalString('METRICS_AUTH_KEY'),
    batchBuckets: r.buckets('BATCH_BUCKETS'),
    microBatchWindowMs: r.number('MICRO_BATCH_WINDOW_MS', 2, 0, 1000),
    threshold: r.number('THRESHOLD', 0.5, 0, 1),
    dtype: r.oneOf('DTYPE', ['bfloat16', 'float16', 'float32'] as const, 'bfloat16'),
    backend: r.oneOf('BACKEND', ['auto', 'onnx', 'tensorrt'] as const, 'auto'),
    cudaGraphs: r.flag('CUDA_GRAPHS', true),
    modelId: r.optionalString('MODEL_ID'),
    modelRevision: r.string('MODEL_REVISION', 'main'),
    modelFile: r.optionalString('MODEL_FILE'),
    modelPath: r.optionalString('MODEL_PATH'),
    enginesDir: r.string('ENGINES_DIR', 'engines'),
    maxBodyBytes: r.int('MAX_BODY_BYTES', 8 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxQueue: r.optionalInt('MAX_QUEUE', 1, 1_000_000),
    maxQueueDelayMs: r.int('MAX_QUEUE_DELAY_MS', 250, 1, 60_000),
    requestTimeoutMs: r.int('REQUEST_TIMEOUT_MS', 2500, 1, 600_000),
    shutdownTimeoutMs: r.int('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    headersTimeoutMs: r.int('HEADERS_TIMEOUT_MS', 5000, 1, 600_000),
    bodyTimeoutMs: r.int('BODY_TIMEOUT_MS', 10_000, 1, 600_000),
    maxConnections: r.int('MAX_CONNECTIONS', 1024, 1, 1_000_000),
    ortIntraOpThreads: r.int('ORT_INTRA_OP_THREADS', 0, 0, 1024),
    ortInterOpThreads: r.int('ORT_INTER_OP_THREADS', 0, 0, 1024),
    samplePasses: r.oneOf('SAMPLE_PASSES', ['auto', 'native', 'javascript'] as const, 'auto'),
    logLevel: r.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    hub: hubSettings(r),
  };
}

function hubSettings(r: Reader): HubSettings {
  const hfHome = r.string('HF_HOME', path.join(r.string('XDG_CACHE_HOME', path.join(homedir(), '.cache')), 'huggingface'));
  const tokenPath = r.string('HF_TOKEN_PATH', path.join(hfHome, 'token'));
  const endpoint = r.string('HF_ENDPOINT', 'https://huggingface.co').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(endpoint) || !URL.canParse(endpoint)) {
    throw new ConfigError('HF_ENDPOINT', `expected an http(s) URL such as https://huggingface.co, got ${JSON.stringify(endpoint)}`);
  }
  return {
    endpoint,
    token: r.optionalString('HF_TOKEN') ?? (existsSync(tokenPath) ? readFileSync(tokenPath, 'utf8').trim() || undefined : undefined),
    cacheDir: r.optionalString('HF_HUB_CACHE') ?? r.string('HUGGINGFACE_HUB_CACHE', path.join(hfHome, 'hub')),
    offline: r.flag('HF_HUB_OFFLINE', false),
    etagTimeoutMs: r.number('HF_HUB_ETAG_TIMEOUT', 10, 0.001, 86_400) * 1000,
    downloadTimeoutMs: r.number('HF_HUB_DOWNLOAD_TIMEOUT', 10, 0.001, 86_400) * 1000,
  };
}

/** The configuration as it may be logged: secrets reduced to whether they are set. */
export function redactedConfig(config: Config): Record<string, unknown> {
  return {
    ...config,
    authKey: config.authKey === undefined ? 'unset' : 'set',
    metricsAuthKey: config.metricsAuthKey === undefined ? 'unset' : 'set',
    hub: { ...config.hub, token: config.hub.token === undefined ? 'unset' : 'set' },
  };
}

class Reader {
  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  number(name: string, fallback: number, min: number, max: number): number {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) {
      throw new ConfigError(name, `expected a number, got ${JSON.stringify(raw)}`);
    }
    if (value < min || value > max) {
      throw new ConfigError(name, `must be between ${min} and ${max}, got ${raw}`);
    }
    return value;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    return parseInteger(name, raw, min, max);
  }

  optionalInt(name: string, min: number, max: number): number | undefined {
    const raw = this.raw(name);
    return raw === undefined ? undefined : parseInteger(name, raw, min, max);
  }

  flag(name: string, fallback: boolean): boolean {
    const raw = this.raw(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    throw new ConfigError(name, `expected 0 or 1, got ${JSON.stringify(raw)}`);
  }

  oneOf<const T extends readonly string[]>(name: string, allowed: T, fallback: T[number]): T[number] {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const value = raw.toLowerCase();
    if (!(allowed as readonly string[]).includes(value)) {
      throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
    }
    return value as T[number];
  }

  buckets(name: string): number[] | undefined {
    const raw = this.raw(name);
    if (raw === undefined) return undefined;
    const sizes = raw.split(',').map((part) => parseInteger(name, part.trim(), 1, 1024));
    const sorted = [...new Set(sizes)].sort((a, b) => a - b);
    if (sorted.length !== sizes.length) throw new ConfigError(name, `repeats a size: ${raw}`);
    return sorted;
  }
}

function parseInteger(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got ${JSON.stringify(raw)}`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${raw}`);
  return value;
}
