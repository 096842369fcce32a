// The algobt page: configure a backtest, watch it run, read, remember and compare results.
// It talks only to the server that served it (REST under /api/, the stream WebSocket).
import { html } from 'htm/preact';
import { render } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Api, takeToken } from './api.js';
import { CompareChart, DailyChart, EquityChart, LiveChart } from './chart.js';
import { ConfigForm, FIELDS_OF } from './components/ConfigForm.js';
import { CompareView, RunHistory } from './components/History.js';
import { Controls, LiveCards, SignalLog } from './components/LiveRun.js';
import { SummaryCards, SymbolChart, TradesTable } from './components/Results.js';
import { Player } from './player.js';
import './style.css';

const FINAL = new Set(['complete', 'error', 'cancelled']);
const INPUT_OF = Object.fromEntries(
  Object.entries(FIELDS_OF).flatMap(([input, names]) => names.map((n) => [n, input])),
);

const DEFAULT_FORM = {
  strategyId: '',
  code: '',
  symbol: 'DEMO',
  period: '1y',
  start: '',
  end: '',
  timeframe: '1d',
  balance: '10000',
  commission: '0.1',
  slippage: '0.05',
  overlays: { ema: true, sma: false, rsi: false },
};

/** The form as the stream's `config`, or field errors found before anything is sent. */
export function buildConfig(form, speed = 0) {
  const errors = {};
  // Batches of candles; when paced, about ten messages a second (the server waits between).
  const config = { batch: true };
  if (speed > 0) {
    config.speed = speed;
    config.batch_size = Math.min(500, Math.max(1, Math.ceil(speed / 10)));
  }
  const symbols = form.symbol
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!symbols.length) errors.symbol = 'give a symbol, e.g. DEMO';
  else if (symbols.length === 1) config.symbol = symbols[0];
  else config.symbols = symbols;
  if (form.code.trim()) config.strategy_code = form.code;
  if (form.strategyId) config.strategy_id = Number(form.strategyId);
  if (!config.strategy_code && !config.strategy_id)
    errors.strategy_code = 'write a strategy (Python or JSON) or pick a stored one';
  config.interval = form.timeframe;
  if (form.period === 'custom') {
    if (!form.start) errors.start_date = 'give a start date';
    if (!form.end) errors.end_date = 'give an end date';
    if (form.start && form.end && form.start >= form.end) errors.start_date = 'the start must be before the end';
    config.period = 'custom';
    config.start_date = form.start;
    config.end_date = form.end;
  } else {
    config.period = form.period;
  }
  const number = (key, field, { scale = 1, positive = false } = {}) => {
    const text = String(form[key]).trim();
    const value = Number(text);
    if (text === '' || !Number.isFinite(value)) errors[field] = 'give a number';
    else if (positive ? value <= 0 : value < 0) errors[field] = positive ? 'must be more than 0' : 'cannot be negative';
    else config[field] = value * scale;
  };
  number('balance', 'initial_balance', { positive: true });
  number('commission', 'commission', { scale: 0.01 });
  number('slippage', 'slippage', { scale: 0.01 });
  const ind = {};
  if (form.overlays.ema) ind.EMA = { periods: [9, 21] };
  if (form.overlays.sma) ind.SMA = { periods: [20, 50] };
  if (form.overlays.rsi) ind.RSI = { timeperiod: 14 };
  if (Object.keys(ind).length) config.indicators = ind;
  return { config, errors };
}

function useChart(Kind, options) {
  const ref = useRef(null);
  const chart = useRef(null);
  const attach = useCallback((el) => {
    if (el && !chart.current) {
      ref.current = el;
      chart.current = new Kind(el, options);
    } else if (!el && chart.current) {
      chart.current.destroy();
      chart.current = null;
    }
  }, []);
  return [attach, chart];
}

function App({ api, initialStrategy }) {
  const [form, setForm] = useState(DEFAULT_FORM);
  const [strategies, setStrategies] = useState([]);
  const [symbols, setSymbols] = useState([]);
  const [validation, setValidation] = useState(null);
  const [fieldErrors, setFieldErrors] = useState({});
  // Without a token in this tab the server's login cookie may still authorize us; a 401
  // from the first request then says in words what to open.
  const [error, setError] = useState(null);
  const [status, setStatus] = useState('idle');
  const [progress, setProgress] = useState({ current: 0, total: 0 });
  const [live, setLive] = useState({ trades: null, winRate: null, pnl: null });
  const [signals, setSignals] = useState([]);
  const [result, setResult] = useState(null);
  const [runId, setRunId] = useState(null);
  const [runs, setRuns] = useState([]);
  const [selected, setSelected] = useState([]);
  const [compare, setCompare] = useState(null);
  const [speed, setSpeedState] = useState('0');
  // A multi-symbol run: tabs pick the symbol the live chart draws (all are kept).
  const [liveSymbols, setLiveSymbols] = useState([]);
  const [shownSymbol, setShownSymbol] = useState(null);
  const [liveRef, liveChart] = useChart(LiveChart, { onSymbols: setLiveSymbols });
  const [equityRef, equityChart] = useChart(EquityChart);
  const [dailyRef, dailyChart] = useChart(DailyChart);
  const [compareRef, compareChart] = useChart(CompareChart);
  const run = useRef({ ws: null, player: null, finished: true, status: 'idle' });

  const set = (patch) => setForm((f) => ({ ...f, ...patch }));
  const go = (s) => {
    run.current.status = s;
    setStatus(s);
  };
  const fail = (err) => {
    const message = typeof err === 'string' ? err : err.message;
    setError(message);
    if (err && err.field) setFieldErrors((f) => ({ ...f, [err.field]: message }));
  };

  const loadRuns = async (strategyId) => {
    const q = strategyId ? `?strategy=${encodeURIComponent(strategyId)}&page_size=50` : '?page_size=50';
    try {
      const page = await api.get(`/api/backtests/runs/${q}`);
      setRuns(page.results || []);
    } catch (err) {
      fail(err);
    }
  };

  const showResult = (res) => {
    setResult(res);
    equityChart.current?.set(res?.equity_curve || []);
    dailyChart.current?.set(res?.daily_stats || []);
  };

  const openStrategy = async (id) => {
    set({ strategyId: id ? String(id) : '' });
    setValidation(null);
    setFieldErrors({});
    setCompare(null);
    setSelected([]);
    if (!id) {
      await loadRuns(null);
      return;
    }
    try {
      const strategy = await api.get(`/api/strategies/strategies/${id}/`);
      set({ strategyId: String(strategy.id), code: strategy.code || '' });
    } catch (err) {
      fail(err);
      if (err.status === 404) setFieldErrors({ strategy_id: err.message });
      return;
    }
    try {
      const latest = await api.get(`/api/strategies/latest-backtest/${id}/get_by_strategy/`);
      showResult(latest);
      setRunId(latest.run_id ?? null);
    } catch (err) {
      if (err.status !== 404) fail(err);
      else showResult(null);
    }
    await loadRuns(id);
  };

  useEffect(() => {
    api.get('/api/strategies/strategies/?page_size=1000').then((p) => setStrategies(p.results || []), fail);
    api.get('/api/symbols/').then((p) => setSymbols(p.symbols || []), fail);
    if (initialStrategy) openStrategy(initialStrategy);
    else loadRuns(null);
  }, []);

  const validate = async () => {
    setFieldErrors({});
    setError(null);
    if (!form.code.trim()) {
      setFieldErrors({ strategy_code: 'write a strategy first (Python or JSON)' });
      return null;
    }
    try {
      const v = await api.post('/api/strategies/validate/', { strategy_code: form.code });
      setValidation(v);
      if (!v.valid) {
        const first = v.errors[0] || {};
        const where = first.path ? `${first.path}` : `line ${first.line}${first.column ? `, column ${first.column}` : ''}`;
        setFieldErrors({ strategy_code: `${where}: ${first.message}` });
      }
      return v;
    } catch (err) {
      fail(err);
      return null;
    }
  };

  const onEvent = (event) => {
    const state = run.current;
    if (state.finished) return;
    const chart = liveChart.current;
    switch (event.type) {
      case 'metadata':
        chart?.handle(event);
        if (event.total_bars) setProgress((p) => ({ ...p, total: event.total_bars }));
        break;
      case 'candle':
      case 'candles': {
        chart?.handle(event);
        const last = event.type === 'candle' ? event : event.bars[event.bars.length - 1];
        if (last) {
          // bar numbers count per symbol; a multi-symbol run's progress is their sum
          state.bars[last.symbol ?? ''] = last.bar_number;
          const current = Object.values(state.bars).reduce((a, b) => a + b, 0);
          setProgress((p) => ({ ...p, current }));
        }
        break;
      }
      case 'signal':
        chart?.handle(event);
        setSignals((s) => [event, ...s].slice(0, 10));
        break;
      case 'stats': {
        state.stats[event.symbol ?? ''] = event;
        const all = Object.values(state.stats);
        if (all.length === 1) {
          setLive({ trades: event.total_trades, winRate: event.win_rate, pnl: event.pnl });
        } else {
          const trades = all.reduce((a, s) => a + s.total_trades, 0);
          const wins = all.reduce((a, s) => a + s.winning_trades, 0);
          const pnl = all.reduce((a, s) => a + s.pnl, 0);
          setLive({ trades, winRate: trades ? (100 * wins) / trades : 0, pnl });
        }
        break;
      }
      case 'complete': {
        chart?.handle(event);
        chart?.fit();
        state.finished = true;
        const res = event.result || event.metrics || {};
        const m = event.metrics || res;
        setLive({ trades: m.total_trades, winRate: m.win_rate, pnl: m.net_profit });
        setProgress((p) => ({ current: event.total_bars ?? p.current, total: event.total_bars ?? p.total }));
        showResult(res);
        setRunId(event.run ?? null);
        if (event.save_error) setError(`The run finished but was not saved: ${event.save_error}`);
        go('complete');
        state.ws?.close();
        loadRuns(form.strategyId || null);
        break;
      }
      case 'error':
        chart?.handle(event);
        state.finished = true;
        fail({ message: event.message, field: event.field });
        go('error');
        state.ws?.close();
        break;
      case 'cancelled':
        chart?.handle(event);
        state.finished = true;
        go('cancelled');
        state.ws?.close();
        break;
      case 'connection-lost':
        chart?.handle({ type: 'error' });
        state.finished = true;
        setError('Lost the connection to the algobt server before the run finished (the server stopped or the network failed).');
        go('error');
        break;
      default:
        break;
    }
  };

  const start = async () => {
    setError(null);
    setFieldErrors({});
    const { config, errors } = buildConfig(form, Math.max(0, Number(speed) || 0));
    if (Object.keys(errors).length) {
      setFieldErrors(errors);
      setError('Check the marked fields.');
      go('error');
      return;
    }
    if (config.strategy_code) {
      go('validating');
      const v = await validate();
      if (!v) {
        go('error');
        setError((e) => e || 'The strategy could not be validated.');
        return;
      }
      if (!v.valid) {
        setError('The strategy is not valid; see the errors under the code.');
        go('error');
        return;
      }
    }
    go('connecting');
    setProgress({ current: 0, total: 0 });
    setLive({ trades: null, winRate: null, pnl: null });
    setSignals([]);
    setCompare(null);
    liveChart.current?.reset();
    setLiveSymbols([]);
    setShownSymbol(null);
    const state = run.current;
    state.player?.clear();
    state.player = new Player((e) => onEventRef.current(e), { speed: Number(speed) || 0 });
    state.finished = false;
    state.bars = {};
    state.stats = {};
    let ws;
    try {
      ws = new WebSocket(api.streamUrl());
    } catch (err) {
      state.finished = true;
      fail(`Cannot open the stream: ${err.message}`);
      go('error');
      return;
    }
    state.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ action: 'start_backtest', config }));
      if (run.current.status === 'connecting') go('streaming');
    };
    ws.onmessage = (msg) => {
      if (state.ws !== ws) return;
      let event;
      try {
        event = JSON.parse(msg.data);
      } catch {
        return;
      }
      state.player.push(event);
    };
    ws.onclose = () => {
      if (state.ws !== ws) return;
      state.player.push({ type: 'connection-lost' });
    };
  };

  // The player calls the latest onEvent (it closes over this render's state).
  const onEventRef = useRef(onEvent);
  onEventRef.current = onEvent;

  const pause = () => {
    const { player } = run.current;
    if (!player) return;
    if (run.current.status === 'paused') {
      player.resume();
      go('streaming');
    } else if (run.current.status === 'streaming') {
      player.pause();
      go('paused');
    }
  };

  const cancel = () => {
    const state = run.current;
    if (state.finished) return;
    state.finished = true;
    state.player?.clear();
    liveChart.current?.handle({ type: 'cancelled' });
    try {
      state.ws?.send(JSON.stringify({ action: 'cancel' }));
    } catch {
      /* already closed */
    }
    const ws = state.ws;
    state.ws = null;
    setTimeout(() => ws?.close(), 500);
    go('cancelled');
  };

  const setSpeed = (value) => {
    setSpeedState(value);
    run.current.player?.setSpeed(Number(value) || 0);
  };

  const showSymbol = (name) => {
    liveChart.current?.showSymbol(name);
    setShownSymbol(name);
  };

  const toggle = (id) => setSelected((s) => (s.includes(id) ? s.filter((x) => x !== id) : [...s, id]));

  const openRun = async (r) => {
    try {
      const results = await api.get(`/api/backtests/runs/${r.id}/results/`);
      const res = Array.isArray(results) ? results[0] : results?.results?.[0] || results;
      if (res) {
        showResult(res);
        setRunId(r.id);
      }
    } catch (err) {
      fail(err);
    }
  };

  const doCompare = async () => {
    setError(null);
    try {
      const data = await api.get(`/api/backtests/runs/compare/?ids=${selected.join(',')}`);
      setCompare(data);
      const curves = await Promise.all(
        data.runs.map(async (r) => {
          const results = await api.get(`/api/backtests/runs/${r.run_id}/results/`);
          const res = Array.isArray(results) ? results[0] : results;
          return { label: `#${r.run_id}`, points: res?.equity_curve || [] };
        }),
      );
      setTimeout(() => compareChart.current?.set(curves), 0);
    } catch (err) {
      fail(err);
    }
  };

  const busy = ['validating', 'connecting', 'streaming', 'paused'].includes(status);
  // The same vnode while the result stays: Preact skips it, so a streaming run does not
  // re-render a big trades table on every event.
  const resultView = useMemo(
    () => html`<section class="panel">
          <h2>Result${runId ? ` — run #${runId}` : ''}</h2>
          <${SummaryCards} summary=${result?.summary} />
          <h3>Equity and drawdown</h3>
          <div class="chart equity-chart" data-testid="equity-chart" ref=${equityRef}></div>
          <h3>Daily performance</h3>
          <div class="chart daily-chart" data-testid="daily-chart" ref=${dailyRef}></div>
          <h3>By symbol</h3>
          <${SymbolChart} stats=${result?.symbol_stats} />
          <h3>Trades</h3>
          <${TradesTable} trades=${result?.trades} />
        </section>`,
    [result, runId],
  );
  return html`<div class="page">
    <header><h1>algobt</h1><span class="sub">backtests on this machine</span></header>
    ${error && html`<div class="error-message" data-testid="error-message" role="alert">${error}</div>`}
    <div class="layout">
      <aside>
        <${ConfigForm} form=${form} set=${set} strategies=${strategies} symbols=${symbols} validation=${validation}
          fieldErrors=${fieldErrors} busy=${busy} onValidate=${validate} onStrategy=${openStrategy} />
      </aside>
      <main>
        <section class="panel">
          <${Controls} status=${status} speed=${speed} progress=${progress} onRun=${start} onPause=${pause} onCancel=${cancel} onSpeed=${setSpeed} />
          <${LiveCards} live=${live} />
          ${liveSymbols.length > 1 &&
          html`<div class="symbol-tabs" data-testid="live-symbols" role="tablist">
            ${liveSymbols.map(
              (name) => html`<button type="button" role="tab" data-testid="live-symbol" data-symbol=${name}
                aria-selected=${String((shownSymbol ?? liveSymbols[0]) === name)} onClick=${() => showSymbol(name)}>${name}</button>`,
            )}
          </div>`}
          <div class="chart live-chart" data-testid="live-chart" ref=${liveRef}></div>
          <${SignalLog} signals=${signals} />
        </section>
        ${resultView}
        <section class="panel">
          <h2>Run history</h2>
          <${RunHistory} runs=${runs} selected=${selected} onToggle=${toggle} onOpen=${openRun} onCompare=${doCompare} currentRun=${runId} />
          <${CompareView} compare=${compare} chartRef=${compareRef} />
        </section>
      </main>
    </div>
    <footer>Charts by <a href="https://www.tradingview.com/" rel="noopener">TradingView Lightweight Charts™</a>
      (<a href="/static/lightweight-charts.LICENSE">Apache-2.0</a>, <a href="/static/lightweight-charts.NOTICE">NOTICE</a>).</footer>
  </div>`;
}

const api = new Api(takeToken());
const params = new URLSearchParams(window.location.search);
render(html`<${App} api=${api} initialStrategy=${params.get('strategy_id')} />`, document.getElementById('app'));
