import { accepted, refused, type Outcome } from "./outcome";

// Alpaca's account configurations (`/v2/account/configurations`) for a RedFire paper
// account: a cash account with no margin, no shorting, no options, fractions wherever the
// asset's lot allows, and no e-mail. One setting is the trader's: `suspend_trade`, which
// refuses every new order (cancels still go) until it is set back. The other fields answer
// what the account is; a request may send them (SDKs send back the whole object they read)
// but not change them.

export const FIXED_CONFIGURATION = {
  dtbp_check: "entry",
  pdt_check: "entry",
  trade_confirm_email: "none",
  no_shorting: true,
  fractional_trading: true,
  max_margin_multiplier: "1",
  max_options_trading_level: 0,
  ptp_no_exception_entry: false,
  disable_overnight_trading: false,
} as const;

type FixedField = keyof typeof FIXED_CONFIGURATION;

/** Why each fixed field cannot change, in the words a refusal gives. */
const WHY: Record<FixedField, string> = {
  dtbp_check: "day-trading buying power checks do not apply to a cash account",
  pdt_check: "pattern day trader checks do not apply to a cash account",
  trade_confirm_email: "RedFire sends no e-mail; fills reach notifications, webhooks and trade_updates",
  no_shorting: "a cash account cannot sell short",
  fractional_trading: "every asset trades in its own lots, fractions included",
  max_margin_multiplier: "a cash account has no margin",
  max_options_trading_level: "options are not traded",
  ptp_no_exception_entry: "publicly traded partnerships are not listed",
  disable_overnight_trading: "each instrument keeps its own session",
};

export type ConfigurationView = { -readonly [K in FixedField]: (typeof FIXED_CONFIGURATION)[K] extends string ? string : (typeof FIXED_CONFIGURATION)[K] extends boolean ? boolean : number } & { suspend_trade: boolean };

export function configurationView(suspended: boolean): ConfigurationView {
  return { ...FIXED_CONFIGURATION, suspend_trade: suspended };
}

/**
 * What a PATCH asks: `suspend_trade` when it is given; a fixed field sent with another value
 * than the account's is refused, naming it and why (nothing changes).
 */
export function configurationChange(body: Partial<ConfigurationView>): Outcome<{ suspendTrade?: boolean }> {
  const changed = (Object.keys(FIXED_CONFIGURATION) as FixedField[]).filter((k) => body[k] !== undefined && body[k] !== FIXED_CONFIGURATION[k]);
  if (changed.length > 0)
    return refused(
      "configuration",
      `${changed.join(", ")} cannot change on a RedFire paper account`,
      changed.map((k) => ({ path: k, message: `is ${JSON.stringify(FIXED_CONFIGURATION[k])}: ${WHY[k]}` })),
    );
  return accepted(body.suspend_trade === undefined ? {} : { suspendTrade: body.suspend_trade });
}
