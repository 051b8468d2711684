// `npm start`: configuration from the environment, the service, and signal handling.
import { loadConfig, redactedConfig, type Config } from './config.js';
import { ConfigError } from './errors.js';
import { createLogger } from './log.js';
import { HubError } from './startup/hub.js';
import { startService, type Service } from './service.js';

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`smart-turn: invalid configuration: ${error.message}`);
    process.exit(2);
  }
  throw error;
}

const log = createLogger(config.logLevel);

let service: Service | undefined;
let signals = 0;
// Ends the process by the signal itself: process.exit while a batch runs would tear down the ONNX
// Runtime thread mid-run, which aborts inside onnxruntime-node (SIGABRT) instead of exiting.
const dieBy = (signal: NodeJS.Signals): void => {
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
};
const onSignal = (signal: NodeJS.Signals): void => {
  if (++signals > 1) {
    log.warn({ signal }, 'second signal: exiting now');
    dieBy(signal);
    return;
  }
  if (!service) {
    log.info({ signal }, 'signal during start-up: nothing accepted yet; exiting');
    process.exit(0);
  }
  log.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'draining: answering accepted requests, then exiting');
  const deadline = setTimeout(() => {
    log.error({ signal, timeoutMs: config.shutdownTimeoutMs }, 'SHUTDOWN_TIMEOUT_MS passed before the drain finished; exiting by the signal');
    dieBy(signal);
  }, config.shutdownTimeoutMs);
  deadline.unref();
  service.stop().then(
    () => {
      log.info('drained; bye');
      process.exit(0);
    },
    (error: unknown) => {
      log.error({ err: error }, 'error while draining');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
// Only now: a signal sent on seeing this line must find the handlers installed.
log.info({ config: redactedConfig(config) }, 'starting');

try {
  service = await startService(config, log);
} catch (error) {
  const hint = error instanceof HubError ? ' (to start without the Hub, set MODEL_PATH to a local ONNX file)' : '';
  log.fatal({ err: error }, `start-up failed: ${error instanceof Error ? error.message : String(error)}${hint}`);
  process.exit(1);
}
