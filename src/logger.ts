/**
 * The logging surface the engine and core need: a subset of pino's API, so Fastify's logger (or a
 * plain test double) can be passed in directly.
 */
export type LogFn = (obj: Record<string, unknown>, msg: string) => void;

export interface Logger {
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

/** A logger that drops everything (default where logs would only be noise, e.g. short scripts). */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
