// Numbers for people (SPEC §6): money with 2 decimals and thousands separators,
// percentages with 1 decimal and a %. The raw number goes into data-value beside it.

const MONEY = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const COUNT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const PRICE = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 6 });

const missing = (v) => v === null || v === undefined || Number.isNaN(Number(v));

export const money = (v) => (missing(v) ? '–' : MONEY.format(Number(v)));
export const pct = (v) => (missing(v) ? '–' : `${Number(v).toFixed(1)}%`);
export const count = (v) => (missing(v) ? '–' : COUNT.format(Number(v)));
export const price = (v) => (missing(v) ? '–' : PRICE.format(Number(v)));

/** The data-value attribute for a raw number (none at all when there is no number). */
export const raw = (v) => (missing(v) ? undefined : String(v));

/** "2024-01-02T14:30:00Z" → "2024-01-02 14:30"; a date stays a date. */
export function when(ts) {
  if (!ts) return '';
  const s = String(ts);
  return s.length <= 10 ? s : s.replace('T', ' ').replace(/:\d\d(\.\d+)?Z?$/, '').replace(/Z$/, '');
}
