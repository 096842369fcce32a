// result.plot() (algobt.widgets.ResultWidget): a finished run's cards, equity with drawdown,
// daily performance, symbol distribution and trades, with the page's own components.
import { html, render } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { DailyChart, EquityChart } from '../src/chart.js';
import { SummaryCards, SymbolChart, TradesTable } from '../src/components/Results.js';

function Chart({ kind, testid, cls, data }) {
  const ref = useRef(null);
  const chart = useRef(null);
  useEffect(() => {
    chart.current = new kind(ref.current);
    return () => chart.current.destroy();
  }, []);
  useEffect(() => chart.current.set(data), [data]);
  return html`<div class=${`chart ${cls}`} data-testid=${testid} ref=${ref}></div>`;
}

function App({ model }) {
  const [result, setResult] = useState(model.get('result') || {});
  useEffect(() => {
    const on = () => setResult(model.get('result') || {});
    model.on('change:result', on);
    return () => model.off('change:result', on);
  }, []);
  const title = [result.strategy_name || result.strategy, result.symbol, result.timeframe].filter(Boolean).join(' · ');
  return html`<div class="algobt-widget result" data-testid="result-view">
    <h3>${title}</h3>
    <${SummaryCards} summary=${result.summary} />
    <h3>Equity and drawdown</h3>
    <${Chart} kind=${EquityChart} testid="equity-chart" cls="equity-chart" data=${result.equity_curve} />
    <h3>Daily performance</h3>
    <${Chart} kind=${DailyChart} testid="daily-chart" cls="daily-chart" data=${result.daily_stats} />
    <h3>By symbol</h3>
    <${SymbolChart} stats=${result.symbol_stats} />
    <h3>Trades</h3>
    <${TradesTable} trades=${result.trades} />
  </div>`;
}

export default {
  render({ model, el }) {
    render(html`<${App} model=${model} />`, el);
    return () => render(null, el);
  },
};
