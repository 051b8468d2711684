// Configuration from the environment, parsed once at start-up. A bad value throws a ConfigError
// naming the variable; nothing downstream re-validates.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { ConfigError } from './errors.js';

// Each list below is the one home of its names: the parser accepts exactly these, and the types that
// other modules use are derived from them.
export const BACKENDS = ['onnx', 'tensorrt'] as const;
export type BackendName = (typeof BACKENDS)[number];
export const BACKEND_CHOICES = ['auto', ...BACKENDS] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
/** Precisions TensorRT engines are built and served in. */
export const DTYPES = ['bfloat16', 'float16', 'float32'] as const;
export type Dtype = (typeof DTYPES)[number];
export const SAMPLE_PASSES_CHOICES = ['auto', 'native', 'javascript'] as const;
export type SamplePassesChoice = (typeof SAMPLE_PASSES_CHOICES)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  host: string;
  port: number;
  authKey: string | undefined;
  metricsAuthKey: string | undefined;
  /** Undefined: the backend's own default (small on CPU: startup/cpu-plan.ts; GPU_BUCKETS on TensorRT). */
  batchBuckets: number[] | undefined;
  /** Undefined: the backend's own (0 on CPU, where a fuller batch is no faster per clip; 2 on GPU). */
  microBatchWindowMs: number | undefined;
  threshold: number;
  dtype: Dtype;
  backend: BackendChoice;
  cudaGraphs: boolean;
  /** The CUDA device TensorRT serves on (and build:engines builds for); its GPU must match the engines'. */
  cudaDevice: number;
  /** Undefined: the backend's default model (v3 on ONNX Runtime CPU, v2 on TensorRT). */
  modelId: string | undefined;
  modelRevision: string;
  modelFile: string | undefined;
  modelPath: string | undefined;
  enginesDir: string;
  /**
   * Test/diagnostic: load libnvinfer.so.10 and libnvonnxparser.so.10 from this folder (absolute)
   * instead of the library search path, e.g. the TensorRT stand-in of test/trt-standin/.
   */
  tensorrtLibDir: string | undefined;
  maxBodyBytes: number;
  /** An operator's cap on waiting requests; undefined: only the deadline limits the queue (admission.ts). */
  maxQueue: number | undefined;
  requestTimeoutMs: number;
  shutdownTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  maxConnections: number;
  /** Open GET /stream connections at most; past it an upgrade is refused with 503. */
  maxStreams: number;
  /** A stream with no message, ping or pending prediction this long is closed. */
  streamIdleTimeoutMs: number;
  /** A stream's largest binary (audio) message; a larger one closes the stream with 1009. */
  streamMaxMessageBytes: number;
  /** Audio a stream may send ahead of real time before its socket stops being read. */
  streamMaxLeadMs: number;
  /** ONNX Runtime's threads and spinning; undefined: the CPU plan's (startup/cpu-plan.ts), 0: ONNX Runtime's own. */
  ortIntraOpThreads: number | undefined;
  ortInterOpThreads: number | undefined;
  ortAllowSpinning: boolean | undefined;
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
    microBatchWindowMs: r.optionalNumber('MICRO_BATCH_WINDOW_MS', 0, 1000),
    threshold: r.number('THRESHOLD', 0.5, 0, 1),
    dtype: r.oneOf('DTYPE', DTYPES, 'bfloat16'),
    backend: r.oneOf('BACKEND', BACKEND_CHOICES, 'auto'),
    cudaGraphs: r.flag('CUDA_GRAPHS', true),
    cudaDevice: r.int('CUDA_DEVICE', 0, 0, 1024),
    modelId: r.optionalString('MODEL_ID'),
    modelRevision: r.string('MODEL_REVISION', 'main'),
    modelFile: r.optionalString('MODEL_FILE'),
    modelPath: r.optionalString('MODEL_PATH'),
    enginesDir: r.string('ENGINES_DIR', 'engines'),
    tensorrtLibDir: r.optionalPath('TENSORRT_LIB_DIR'),
    maxBodyBytes: r.int('MAX_BODY_BYTES', 8 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxQueue: r.optionalInt('MAX_QUEUE', 1, 1_000_000),
    requestTimeoutMs: r.int('REQUEST_TIMEOUT_MS', 2500, 1, 600_000),
    shutdownTimeoutMs: r.int('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    headersTimeoutMs: r.int('HEADERS_TIMEOUT_MS', 5000, 1, 600_000),
    bodyTimeoutMs: r.int('BODY_TIMEOUT_MS', 10_000, 1, 600_000),
    maxConnections: r.int('MAX_CONNECTIONS', 1024, 1, 1_000_000),
    maxStreams: r.int('MAX_STREAMS', 256, 1, 1_000_000),
    streamIdleTimeoutMs: r.int('STREAM_IDLE_TIMEOUT_MS', 60_000, 1, 3_600_000),
    streamMaxMessageBytes: r.int('STREAM_MAX_MESSAGE_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    streamMaxLeadMs: r.int('STREAM_MAX_LEAD_MS', 20_000, 1, 3_600_000),
    ortIntraOpThreads: r.optionalInt('ORT_INTRA_OP_THREADS', 0, 1024),
    ortInterOpThreads: r.optionalInt('ORT_INTER_OP_THREADS', 0, 1024),
    ortAllowSpinning: r.optionalFlag('ORT_ALLOW_SPINNING'),
    samplePasses: r.oneOf('SAMPLE_PASSES', SAMPLE_PASSES_CHOICES, 'auto'),
    logLevel: r.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
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

  /** Made absolute: the value is used from wherever the process later runs. */
  optionalPath(name: string): string | undefined {
    const raw = this.raw(name);
    return raw === undefined ? undefined : path.resolve(raw);
  }

  number(name: string, fallback: number, min: number, max: number): number {
    return this.optionalNumber(name, min, max) ?? fallback;
  }

  optionalNumber(name: string, min: number, max: number): number | undefined {
    const raw = this.raw(name);
    if (raw === undefined) return undefined;
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
    return this.optionalFlag(name) ?? fallback;
  }

  optionalFlag(name: string): boolean | undefined {
    const raw = this.raw(name)?.toLowerCase();
    if (raw === undefined) return undefined;
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
