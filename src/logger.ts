// The process logger (pino): JSON lines on stdout, with credentials redacted wherever they might appear.
import { pino, type Logger } from 'pino';
import type { LogLevel } from './settings.js';
import { REDACTED_PATHS } from './http/request-log.js';

export function createLogger(level: LogLevel): Logger {
  return pino({
    level,
    base: { service: 'berth' },
    redact: { paths: [...REDACTED_PATHS, '*.password', '*.token', '*.secretValue'], censor: '[redacted]' },
  });
}
