// The strategy's run history (newest first) and the side-by-side comparison of runs.
import { html } from 'htm/preact';
import { money, pct, raw, when } from '../format.js';

export function RunHistory({ runs, selected, onToggle, onOpen, onCompare, currentRun }) {
  return html`<div class="history">
    <table data-testid="run-history">
      <thead><tr><th></th><th>Run</th><th>When</th><th>Symbol</th><th>Timeframe</th><th>Period</th><th>Status</th><th>From</th></tr></thead>
      <tbody>
        ${runs.map(
          (r) => html`<tr data-testid="history-row" data-run-id=${String(r.id)} class=${r.id === currentRun ? 'current' : ''}>
            <td><input type="checkbox" data-testid="compare-check" aria-label=${`compare run ${r.id}`} checked=${selected.includes(r.id)} onChange=${() => onToggle(r.id)} /></td>
            <td><button type="button" class="link" onClick=${() => onOpen(r)}>#${r.id}</button></td>
            <td>${when(r.created_at)}</td><td>${(r.symbols || [r.symbol]).join(', ')}</td><td>${r.timeframe || r.interval}</td>
            <td>${r.period || `${r.start_date || ''}…${r.end_date || ''}`}</td><td>${r.status}</td><td>${r.source || ''}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    <button type="button" data-testid="compare-button" onClick=${onCompare} disabled=${selected.length < 2}>
      Compare ${selected.length >= 2 ? `${selected.length} runs` : '(pick two or more)'}
    </button>
  </div>`;
}

const METRIC_FORMAT = {
  total_return: pct,
  net_profit: money,
  final_value: money,
  win_rate: pct,
  max_drawdown: pct,
  volatility: pct,
  cagr: pct,
  exposure_pct: pct,
  buy_and_hold_return: pct,
  commissions: money,
};
const fmtMetric = (name, v) =>
  v === null || v === undefined ? '–' : (METRIC_FORMAT[name] || ((x) => Number(x).toFixed(2)))(v);

export function CompareView({ compare, chartRef }) {
  if (!compare) return null;
  const { metrics, runs, best = {} } = compare;
  return html`<div data-testid="compare-view" class="compare">
    <div class="table-wrap"><table class="compare-table">
      <thead><tr><th>Metric</th>${runs.map((r) => html`<th>#${r.run_id} ${r.symbol} ${r.timeframe}</th>`)}</tr></thead>
      <tbody>
        ${metrics.map(
          (m) => html`<tr><th scope="row">${m}</th>
            ${runs.map((r) => html`<td class=${best[m] === r.run_id ? 'best' : ''} data-value=${raw(r[m])}>${fmtMetric(m, r[m])}</td>`)}
          </tr>`,
        )}
      </tbody>
    </table></div>
    <div class="compare-columns">
      ${runs.map(
        (r) => html`<div data-testid="compare-column" data-run-id=${String(r.run_id)} class="compare-column">
          <strong>Run #${r.run_id}</strong> ${r.symbol} ${r.timeframe} ${r.period || ''}
          <div data-value=${raw(r.total_return)}>Return ${pct(r.total_return)}</div>
          <div data-value=${raw(r.net_profit)}>Profit ${money(r.net_profit)}</div>
        </div>`,
      )}
    </div>
    <div class="chart compare-chart" data-testid="compare-chart" ref=${chartRef}></div>
  </div>`;
}
