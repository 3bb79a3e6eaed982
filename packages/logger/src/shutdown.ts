import type { Logger } from 'pino';

/** On SIGTERM or SIGINT: log, run `close` (which lets running work finish), exit 0 (1 if closing failed). */
export function closeOnSignals(logger: Logger, what: string, close: () => Promise<void>): void {
  const stop = async (signal: string) => {
    logger.info({ signal }, what);
    try {
      await close();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
