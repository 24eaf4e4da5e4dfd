// The backtest CLI's command line: what each option means, its default, and every check on
// it. A problem is a UsageError (the CLI prints it and exits 2); nothing here runs a backtest.
import { existsSync } from "node:fs";
import { basename, extname, resolve } from "node:path";
import { parseArgs } from "node:util";

export const USAGE = `Usage: npm run backtest -- --strategy <template | file.ts/.js> --csv <bars.csv> [options]

  --strategy NAME|PATH     a template (ma-cross) or a strategy file whose default export is the strategy
  --csv PATH               bars: timestamp,open,high,low,close,volume[,trade_count,vwap]; timestamp RFC 3339
                           or epoch seconds/ms, strictly increasing; prices on the tick grid, volume on the lot grid
  --params JSON            strategy parameters (templates check them against their schema)
  --symbol SYMBOL          default from the file name (btc-usd.csv → BTC/USD, aapl.csv → AAPL), else CSV/USD;
                           a symbol with "/" is crypto (UTC days), otherwise a US equity (New York days)
  --timeframe TF           the bars' timeframe; each timestamp must start one (default 1Min: any whole minute)
  --tick DECIMAL           price grid (default 0.01)
  --lot DECIMAL            size grid (default 0.000000001, fine enough that sizing is not distorted by rounding)
  --cash DECIMAL           starting cash in USD (default 100000)
  --fee-bps BPS            maker and taker fee in basis points, two decimals at most (default 0)
  --maker-bps BPS          the maker fee alone (a resting order's fill), overriding --fee-bps
  --taker-bps BPS          the taker fee alone (a fill on arrival), overriding --fee-bps; the
                           platform charges maker 10 and taker 25 unless a backtest sets fee_bps
  --min-fee DECIMAL        least fee of a filled order in USD (default 0)
  --half-spread-ticks N    each print is quoted N ticks either side (default 0)
  --slippage-ticks N       ticks per depth level a taker walks past the displayed size (default 0)
  --quote-size DECIMAL     displayed size of each quote side (default: effectively unlimited)
  --json                   one JSON object on stdout: { metrics, fills }
  --help

Risk limits are the platform's except the size limits (order quantity and value, position
value, daily loss) and the order rate (200 a minute of bar time on the platform, 100,000
here), which are lifted so that the strategy, not the account, is tested.
Exit status: 0 done, 1 the strategy threw, 2 bad input (options, CSV, parameters, strategy file).`;

export class UsageError extends Error {
  /** `aboutOptions: false` for a problem in the input a good command line read (a CSV's rows): the options' list would not help. */
  constructor(messages, { aboutOptions = true } = {}) {
    super(messages.join("\n"));
    this.messages = messages;
    this.aboutOptions = aboutOptions;
  }
}

const STRATEGY_FILE = /\.(?:[cm]?js|[cm]?ts)$/;
const LIFTED = "1000000000000";
export const CLI_LIMITS = { maxOrderQty: LIFTED, maxOrderNotional: LIFTED, maxPositionNotional: LIFTED, dailyLossLimit: LIFTED, ordersPerMinute: 100_000 };

/** argv → raw option strings; unknown options and missing values are usage errors. */
export function readArgs(argv) {
  const string = { type: "string" };
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        strategy: string,
        csv: string,
        params: string,
        symbol: string,
        timeframe: string,
        tick: string,
        lot: string,
        cash: string,
        "fee-bps": string,
        "maker-bps": string,
        "taker-bps": string,
        "min-fee": string,
        "half-spread-ticks": string,
        "slippage-ticks": string,
        "quote-size": string,
        json: { type: "boolean" },
        help: { type: "boolean" },
      },
    });
    if (positionals.length > 0) throw new UsageError([`unexpected argument "${positionals[0]}"`]);
    return values;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError([optionProblem(error)]);
  }
}

/**
 * parseArgs's refusal in one short line of this command's words (found in QA: Node's text
 * ran over several lines, about positional arguments this command does not take).
 */
function optionProblem(error) {
  const option = /'(-[^' ]*)/.exec(String(error.message))?.[1] ?? "";
  if (error.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${option}`;
  if (error.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    if (/does not take/.test(error.message)) return `${option} takes no value`;
    // "--cash -5": a value that starts with a dash reads as another option (found in QA: "needs a value" alone misled).
    if (/ambiguous/.test(error.message)) return `${option} needs a value; one that starts with "-" is written ${option}=<value>`;
    return `${option} needs a value`;
  }
  return String(error.message).split("\n")[0];
}

/** Where the strategy comes from: a template by name, or a file (absolute path). */
export function strategySource(values) {
  const name = values.strategy;
  if (name === undefined) throw new UsageError(["--strategy is required (a template name such as ma-cross, or a .ts/.js file)"]);
  if (!STRATEGY_FILE.test(name) && !name.includes("/")) return { template: name };
  const path = resolve(name);
  if (!existsSync(path)) throw new UsageError([`--strategy: no file ${name}`]);
  if (!STRATEGY_FILE.test(name)) throw new UsageError([`--strategy: ${name} is not a .js or .ts file`]);
  return { file: path };
}

/** A symbol from a file name: "btc-usd.csv" → BTC/USD, "aapl.csv" → AAPL, else CSV/USD. */
export function symbolFromFile(path) {
  const stem = basename(path, extname(path)).toUpperCase();
  const pair = /^([A-Z0-9]{1,10})[-_/]?(USD)$/.exec(stem);
  if (pair && stem.length > 3) return `${pair[1]}/USD`;
  if (/^[A-Z][A-Z.]{0,9}$/.test(stem)) return stem;
  return "CSV/USD";
}

const integer = (text, option, errors, max) => {
  if (!/^\d{1,9}$/.test(text) || Number(text) > max) errors.push(`${option}: "${text}" is not a whole number from 0 to ${max}`);
  return Number(text);
};

/** One message per option: the first says what is wrong (a schema's check repeating it in its own words only adds noise). */
function firstPerOption(errors) {
  const seen = new Set();
  return errors.filter((message) => {
    const option = /^(--[a-z-]+):/.exec(message)?.[1];
    if (option === undefined) return true;
    if (seen.has(option)) return false;
    seen.add(option);
    return true;
  });
}

/**
 * Everything but the strategy, checked with the engine's own schemas (`m` is the bundle:
 * InstrumentSpecSchema, VenueSettings, RiskLimits, parseTimeframe, decimalToLots), so the
 * CLI accepts exactly what the platform does. Collects every problem before failing.
 */
export function runOptions(values, m) {
  const errors = [];
  if (values.csv === undefined) errors.push("--csv is required (a file with the header timestamp,open,high,low,close,volume)");
  else if (!existsSync(values.csv)) errors.push(`--csv: no file ${values.csv}`);

  let params;
  try {
    params = values.params === undefined ? {} : JSON.parse(values.params);
    if (typeof params !== "object" || params === null || Array.isArray(params)) errors.push(`--params: must be a JSON object like '{"fast":10,"slow":30}'`);
  } catch (error) {
    errors.push(`--params: not JSON (${error.message})`);
  }

  const symbol = values.symbol ?? (values.csv ? symbolFromFile(values.csv) : "CSV/USD");
  if (!/^[A-Z0-9][A-Z0-9./-]{0,31}$/.test(symbol)) errors.push(`--symbol: "${symbol}" must be 1 to 32 capital letters, digits, ".", "/" or "-"`);
  const assetClass = symbol.includes("/") ? "crypto" : "us_equity";
  const spec = { symbol, assetClass, tickSize: values.tick ?? "0.01", lotSize: values.lot ?? "0.000000001", timeZone: assetClass === "crypto" ? "UTC" : "America/New_York" };
  const specCheck = m.InstrumentSpecSchema.safeParse(spec);
  if (!specCheck.success) for (const issue of specCheck.error.issues) errors.push(`--${issue.path[0] === "tickSize" ? "tick" : issue.path[0] === "lotSize" ? "lot" : "symbol"}: ${issue.message}`);

  const timeframe = m.parseTimeframe(values.timeframe ?? "1Min");
  if (!timeframe.ok) errors.push(`--timeframe: ${timeframe.message}`);

  const cash = values.cash ?? "100000";
  const cashProblem = m.startingCashProblem(cash);
  if (cashProblem) errors.push(`--cash: ${cashProblem}`);

  // Basis points: --fee-bps both sides, --maker-bps and --taker-bps one each (found in QA: one
  // figure could not reproduce a platform run's maker 10 and taker 25).
  const bps = (option) => {
    const text = values[option] ?? "0";
    if (/^\d{1,4}(\.\d{1,2})?$/.test(text)) return Number(text);
    errors.push(`--${option}: "${text}" is not a number of basis points like 7 or 2.5`);
    return 0;
  };
  const fee = bps("fee-bps");
  const venue = {
    makerBps: values["maker-bps"] === undefined ? fee : bps("maker-bps"),
    takerBps: values["taker-bps"] === undefined ? fee : bps("taker-bps"),
    minFee: values["min-fee"] ?? "0",
    depthLevels: 5,
    slippageTicks: integer(values["slippage-ticks"] ?? "0", "--slippage-ticks", errors, 10_000),
    crossUsers: false,
  };
  const venueCheck = m.VenueSettings.safeParse(venue);
  if (!venueCheck.success) {
    const names = { makerBps: values["maker-bps"] === undefined ? "--fee-bps" : "--maker-bps", takerBps: values["taker-bps"] === undefined ? "--fee-bps" : "--taker-bps", minFee: "--min-fee", slippageTicks: "--slippage-ticks" };
    const seen = new Set();
    for (const issue of venueCheck.error.issues) {
      const text = `${names[issue.path[0]] ?? issue.path.join(".")}: ${issue.path[0] === "minFee" ? `"${venue.minFee}" must be an amount in USD with at most two decimals` : issue.message}`;
      if (!seen.has(text)) errors.push(text);
      seen.add(text);
    }
  }
  const halfSpreadTicks = integer(values["half-spread-ticks"] ?? "0", "--half-spread-ticks", errors, 1_000_000);

  let quoteLots;
  const quoteSize = values["quote-size"];
  // In digits, as --cash and the API's sizes are (found in QA: "1e3" was taken here and refused there).
  if (quoteSize !== undefined && !/^\d+(\.\d+)?$/.test(quoteSize)) {
    const written = Number(quoteSize) > 0 ? "; write it in digits, like 10 or 0.5" : "";
    errors.push(`--quote-size: "${quoteSize.slice(0, 40)}" is not a positive size on the ${spec.lotSize} lot grid${written}`);
  } else if (quoteSize !== undefined && specCheck.success) {
    quoteLots = m.decimalToLots(quoteSize, spec);
    // Too many lots to count is said as such, not as off the grid (found in QA).
    if (quoteLots === undefined && m.tooManySteps(values["quote-size"], spec.lotSize)) errors.push(`--quote-size: "${values["quote-size"]}" is more than 2^53 lots of ${spec.lotSize}; give a smaller size`);
    else if (quoteLots === undefined || quoteLots <= 0) errors.push(`--quote-size: "${values["quote-size"]}" is not a positive size on the ${spec.lotSize} lot grid`);
  }

  if (errors.length > 0) throw new UsageError(firstPerOption(errors));
  return { csv: values.csv, params, spec, timeframe: timeframe.timeframe, cash, venue, halfSpreadTicks, quoteLots, limits: m.RiskLimits.parse({ ...m.DEFAULT_LIMITS, ...CLI_LIMITS }), json: values.json === true };
}
