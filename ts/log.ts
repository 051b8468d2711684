// Structured JSON logs (pino). Secrets never reach a log line: the config is logged redacted and the
// Authorization header is never logged at all.
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

/**
 * Writes to stdout synchronously by default: pino's asynchronous default loses the last lines when
 * the process dies by a signal, which is exactly when an operator needs them. A line costs
 * microseconds.
 */
export function createLogger(level: LogLevel, destination: DestinationStream = pino.destination({ dest: 1, sync: true })): Logger {
  return pino({ level, base: { service: 'smart-turn' }, redact: ['req.headers.authorization'] }, destination);
}
