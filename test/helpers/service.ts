// A real service on a loopback port, for tests: the fixture model on ONNX Runtime unless a backend is
// given, logs silenced unless SMART_TURN_TEST_LOGS=1.
import { fileURLToPath } from 'node:url';
import type { Backend } from '../../ts/backends/backend.js';
import { loadConfig, type Config } from '../../ts/config.js';
import type { DestinationStream } from 'pino';
import { createLogger } from '../../ts/log.js';
import { startService, type Service } from '../../ts/service.js';
import { READOUT_V2 } from './fixtures.js';

export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

export interface TestService extends Service {
  url: string;
  config: Config;
}

export async function startTestService(env: Record<string, string> = {}, backend?: Backend, logTo?: DestinationStream): Promise<TestService> {
  const config = loadConfig({ MODEL_PATH: READOUT_V2, BACKEND: 'onnx', HOST: '127.0.0.1', PORT: '0', ...env });
  const log = logTo ? createLogger('info', logTo) : createLogger(process.env['SMART_TURN_TEST_LOGS'] === '1' ? 'debug' : 'silent');
  const service = await startService(config, log, backend ? { backend } : {});
  return Object.assign(service, { url: `http://127.0.0.1:${service.port}`, config });
}

export interface Answer {
  status: number;
  headers: Headers;
  json: any;
}

export async function post(url: string, body: Uint8Array | string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    body: body as string, // fetch takes any Uint8Array; Node 20's types lag behind
    headers: { 'content-type': 'application/octet-stream', ...headers },
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : undefined };
}
