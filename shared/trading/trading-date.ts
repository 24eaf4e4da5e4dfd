// The account's trading day is the New York date: of its daily loss limit, its last_equity
// and the dates its activities carry.
const tradingDates = new Intl.DateTimeFormat("en-CA", { timeZone: "America/New_York" });
// New York's offset from UTC is a whole number of hours and changes on the hour, so every
// instant of one UTC hour has the same New York date, and a date lasts at most 25 hours.
// Formatting a date through Intl costs microseconds and every order asks, so the run of
// hours that share the last date asked is remembered: found by a binary search over the
// next 25 hours (dates only move forward), about six formats a day instead of one an hour.
const HOUR_MS = 3_600_000;
const dateOfHour = (hour: number): string => tradingDates.format(new Date(hour * HOUR_MS));
/**
 * The New York date of any instant, not remembered: for dates of the past (an activity's),
 * which would only move tradingDate's remembered run of hours away from the clock's.
 */
export const newYorkDateOf = (ms: number): string => tradingDates.format(new Date(ms));
let dateFrom = Number.NaN;
let dateUntil = Number.NaN;
let dateText = "";
/** The account's trading day: the New York date. */
export const tradingDate = (ms: number): string => {
  const hour = Math.floor(ms / HOUR_MS);
  if (hour >= dateFrom && hour < dateUntil) return dateText;
  const before = dateUntil;
  dateText = dateOfHour(hour);
  // The first hour after `hour` with another date: in (hour, hour + 25].
  let same = hour;
  let other = hour + 25;
  // The clock moves forward: past the run of hours remembered, the next date ends a whole
  // number of days after that run did (an hour either way across a clock change), which
  // two formats confirm where the search takes five.
  if (hour >= before) {
    const guess = before + 24 * Math.ceil((hour + 1 - before) / 24);
    for (const end of [guess, guess - 1, guess + 1]) {
      if (end > hour && end <= hour + 25 && dateOfHour(end - 1) === dateText && dateOfHour(end) !== dateText) {
        same = end - 1;
        other = end;
        break;
      }
    }
  }
  while (other - same > 1) {
    const mid = Math.floor((same + other) / 2);
    if (dateOfHour(mid) === dateText) same = mid;
    else other = mid;
  }
  dateFrom = hour;
  dateUntil = other;
  return dateText;
};
