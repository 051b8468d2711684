// Structured JSON logs (pino). Secrets never reach a log line: the config is logged redacted and the
// Authorization header is never logged at all.
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino({ level, base: { service: 'smart-turn' }, redact: ['req.headers.authorization'] }, destination);
}
