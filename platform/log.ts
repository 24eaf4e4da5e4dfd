// One JSON object per line: Workers Logs and `wrangler tail` index the fields. Every line
// names the service that wrote it (the gateway, or the Durable Object class), so a log
// search can follow one order from the gateway into the objects.

export type LogLevel = "debug" | "info" | "warn" | "error";
export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export type Service = "gateway" | "queue" | "account" | "market-symbol" | "stream-hub" | "rate-limiter" | "backtest-job" | "config-store" | "config";

export function logger(service: Service, context: Record<string, unknown> = {}): Logger {
  return (level, message, fields = {}) => {
    const line = JSON.stringify({ time: new Date().toISOString(), level, message, service, ...context, ...fields });
    if (level === "error") console.error(line);
    else if (level === "warn") console.warn(line);
    else console.log(line);
  };
}

/** The gateway's logger. */
export const log: Logger = logger("gateway");
