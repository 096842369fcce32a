// A finished result: summary cards, equity with drawdown, daily performance, symbol
// distribution and the sortable trades table.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { money, pct, price, raw, when } from '../format.js';
import { Card } from './LiveRun.js';

export function SummaryCards({ summary }) {
  const s = summary || {};
  return html`<div class="cards summary">
    <${Card} testid="card-total-trades" label="Total trades" value=${s.totalTrades} text=${s.totalTrades ?? '–'} />
    <${Card} testid="card-win-rate" label="Win rate" value=${s.winRate} text=${pct(s.winRate)} />
    <${Card} testid="card-total-profit" label="Total profit" value=${s.totalProfit} text=${money(s.totalProfit)} />
    <${Card} testid="card-average-trade" label="Average trade" value=${s.averageTrade} text=${money(s.averageTrade)} />
  </div>`;
}

export function SymbolChart({ stats }) {
  const rows = stats || [];
  const top = Math.max(1e-9, ...rows.map((r) => Math.abs(r.profit || 0)));
  return html`<div class="symbol-chart" data-testid="symbol-chart" data-points=${String(rows.length)}>
    ${rows.map(
      (r) => html`<div class="sym-row" data-symbol=${r.symbol}>
        <span class="sym-name">${r.symbol}</span>
        <span class="sym-bar"><span class=${r.profit >= 0 ? 'up' : 'down'} style=${{ width: `${(100 * Math.abs(r.profit || 0)) / top}%` }}></span></span>
        <span class="sym-num" data-value=${raw(r.profit)}>${money(r.profit)}</span>
        <span class="sym-num">${r.trades} trades · ${pct(r.percentage)}</span>
      </div>`,
    )}
  </div>`;
}

const COLUMNS = [
  ['entry_time', 'Entry', when],
  ['exit_time', 'Exit', when],
  ['symbol', 'Symbol', String],
  ['action', 'Side', String],
  ['size', 'Size', (v) => v],
  ['entry_price', 'Entry price', price],
  ['exit_price', 'Exit price', price],
  ['pnl', 'P&L', money],
  ['return_pct', 'Return', pct],
];

// A long run's table shows its first rows (in the chosen order) until asked for all:
// thousands of rows would cost the page more to lay out than the run took to stream.
export const TRADES_SHOWN = 250;

export function TradesTable({ trades }) {
  const [sort, setSort] = useState({ key: 'entry_time', dir: 1 });
  const [all, setAll] = useState(false);
  const rows = (trades || []).slice();
  rows.sort((a, b) => {
    const x = a[sort.key];
    const y = b[sort.key];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * sort.dir;
  });
  const by = (key) => () => setSort((s) => ({ key, dir: s.key === key ? -s.dir : 1 }));
  return html`<div class="table-wrap">
    <table data-testid="trades-table" class="trades">
      <thead><tr>
        ${COLUMNS.map(
          ([key, label]) =>
            html`<th data-key=${key} aria-sort=${sort.key === key ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none'}>
              <button type="button" onClick=${by(key)}>${label}${sort.key === key ? (sort.dir > 0 ? ' ▲' : ' ▼') : ''}</button>
            </th>`,
        )}
      </tr></thead>
      <tbody>
        ${(all ? rows : rows.slice(0, TRADES_SHOWN)).map(
          (t) => html`<tr data-testid="trade-row" class=${(t.pnl ?? 0) >= 0 ? 'win' : 'loss'}>
            ${COLUMNS.map(([key, , fmt]) => html`<td data-key=${key} data-value=${raw(t[key])}>${t[key] === null || t[key] === undefined ? '' : fmt(t[key])}</td>`)}
          </tr>`,
        )}
      </tbody>
    </table>
    ${!all && rows.length > TRADES_SHOWN
      ? html`<button type="button" class="trades-more" data-testid="trades-more" data-total=${String(rows.length)}
          onClick=${() => setAll(true)}>Show all ${rows.length.toLocaleString('en-US')} trades (${TRADES_SHOWN} shown)</button>`
      : null}
  </div>`;
}
