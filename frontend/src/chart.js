// The charts of a run, from the event stream, for the page and the notebook widget alike.
//
// `LiveChart` draws what a run's events say: candlesticks and volume bar by bar, the
// config's indicators as overlays (oscillators in a pane of their own) and entry/exit
// markers on their candles. Bars are queued and drawn at most once per animation frame:
// a few new bars with `series.update()`, a burst with one `setData()` whose rate adapts
// to its cost, so a 100,000-bar stream never redraws the chart per candle.
// The root element carries `data-candles`, `data-markers` and `data-status` (SPEC §6).
//
// `EquityChart`, `DailyChart` and `CompareChart` draw a finished result. Nothing here
// touches page globals beyond the element it is given, so the notebook widget bundles it too.
import {
  CandlestickSeries,
  ColorType,
  HistogramSeries,
  LineSeries,
  createChart,
  createSeriesMarkers,
} from 'lightweight-charts';

const UP = '#26a69a';
const DOWN = '#ef5350';
const LINE_COLORS = ['#2962ff', '#ff9800', '#9c27b0', '#009688', '#795548', '#e91e63', '#607d8b'];
// Indicators on their own scale (0–100 or unbounded), drawn in a pane under the price.
const OSCILLATORS = /^(RSI|MACD|STOCH|ADX|CCI|MFI|WILLR|ROC|MOM|ATR|OBV|CMO|TRIX|PPO|APO|AROON)/i;
// Up to this many new bars a frame appends them with series.update(); a bigger backlog
// (a fast stream) reloads the series with setData(): appending costs grow with the
// series' length, so bar-by-bar updates of a 100,000-bar stream would be quadratic.
const INCREMENTAL = 16;
// A burst redraws (setData) only after BULK_GAP times the last redraw's cost has passed,
// at least BULK_MIN_MS: drawing then takes a bounded share of the time however long the
// series grows, and the bars keep coming in between.
const BULK_GAP = 10;
const BULK_MIN_MS = 300;
const MANY_MARKERS = 150;
const VOLUME_UP = 'rgba(38,166,154,0.45)';
const VOLUME_DOWN = 'rgba(239,83,80,0.45)';

/** A stream timestamp ("2024-01-02", "2024-12-02T14:30:00Z") as chart time (UTC seconds). */
export function toTime(ts) {
  if (typeof ts === 'number') return ts;
  let text = String(ts);
  if (text.length === 10) text += 'T00:00:00Z';
  else if (!/(Z|[+-]\d\d:?\d\d)$/i.test(text)) text += 'Z';
  return Math.floor(Date.parse(text) / 1000);
}

function baseOptions(root, extra = {}) {
  return {
    autoSize: true,
    layout: {
      background: { type: ColorType.Solid, color: 'transparent' },
      textColor: getComputedStyle(root).color || '#222',
      fontSize: 11,
      attributionLogo: true, // the licence's link to TradingView
    },
    grid: { vertLines: { color: 'rgba(128,128,128,0.12)' }, horzLines: { color: 'rgba(128,128,128,0.12)' } },
    rightPriceScale: { borderVisible: false },
    timeScale: { borderVisible: false, timeVisible: true, secondsVisible: false },
    ...extra,
  };
}

/** One symbol's bars, indicator points and markers, drawn or not. */
function book() {
  return { candles: [], volume: [], lines: new Map(), markers: [], lastTime: null };
}

/** A run drawn live from its events: call `handle(event)` with each stream message.
 *
 * A multi-symbol run keeps every symbol's bars and markers and draws one symbol at a
 * time (the first, or `showSymbol(name)`); `symbol` in the options keeps only that one.
 */
export class LiveChart {
  constructor(root, { schedule, symbol, onSymbols } = {}) {
    this.root = root;
    this.only = symbol || null;
    this.onSymbols = onSymbols || null;
    this._schedule = schedule || defaultSchedule;
    this.chart = createChart(root, baseOptions(root));
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: UP,
      downColor: DOWN,
      wickUpColor: UP,
      wickDownColor: DOWN,
      borderVisible: false,
    });
    this.volume = this.chart.addSeries(HistogramSeries, {
      priceScaleId: 'volume',
      priceFormat: { type: 'volume' },
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    this.markers = createSeriesMarkers(this.candles, []);
    this.reset();
  }

  /** Empty the chart for a new run. */
  reset() {
    for (const line of this.lines?.values() || []) this.chart.removeSeries(line.series);
    this.lines = new Map();
    this.books = new Map();
    this.symbol = this.only;
    this.queue = [];
    this.markersDirty = false;
    this.drawn = 0;
    this.shownDrawn = 0;
    this.markerCount = 0;
    this.candles.setData([]);
    this.volume.setData([]);
    this.markers.setMarkers([]);
    this._frame = null;
    this._bulkCost = 0;
    this._lastBulk = 0;
    this._stale = false;
    this._setStatus('idle');
    this._publish();
  }

  /** The symbols of this run, in the order they came (metadata first). */
  symbols() {
    return [...this.books.keys()];
  }

  /** The shown symbol's bars and markers, as the chart draws them (read-only). */
  get data() {
    const b = this.books.get(this.symbol) || book();
    return { candles: b.candles, volume: b.volume };
  }

  get markerList() {
    return (this.books.get(this.symbol) || book()).markers;
  }

  get lastTime() {
    return (this.books.get(this.symbol) || book()).lastTime;
  }

  /** Draw `name`'s bars, indicators and markers instead of the symbol shown now. */
  showSymbol(name) {
    if (!this.books.has(name) || name === this.symbol) return;
    this.flush();
    this.symbol = name;
    this._stale = true;
    this.markersDirty = true;
    this.flush();
    this.fit();
  }

  /** Feed one stream message (metadata, candle, candles, signal, complete, error, cancelled). */
  handle(event) {
    switch (event.type) {
      case 'metadata':
        // A multi-symbol run names "A,B": all are kept, the first (or the asked one) drawn.
        if (event.symbol) {
          for (const name of String(event.symbol).split(',')) this._book(name);
        }
        for (const name of event.indicators || []) this._line(name);
        this._setStatus('streaming');
        break;
      case 'candle':
        this._enqueue(event);
        break;
      case 'candles':
        if (event.bars.length && this._keeps(event.symbol ?? event.bars[0].symbol ?? null)) {
          this.queue.push(...event.bars);
          this._request();
        }
        break;
      case 'signal':
        this._signal(event);
        break;
      case 'complete':
        this.flush();
        this._setStatus('complete');
        break;
      case 'error':
        this.flush();
        this._setStatus('error');
        break;
      case 'cancelled':
        this.flush();
        this._setStatus('cancelled');
        break;
      default:
        break;
    }
  }

  /** The book of `name` (made on first sight); null for a symbol this chart does not keep. */
  _book(name) {
    // Single-symbol streams name no symbol per bar: theirs is the one shown.
    const key = name ?? this.symbol ?? '';
    if (this.only && key && key !== this.only) return null;
    let b = this.books.get(key);
    if (!b) {
      b = book();
      this.books.set(key, b);
      if (this.symbol === null) this.symbol = key;
      this.onSymbols?.(this.symbols());
    }
    return b;
  }

  _keeps(name) {
    return !(this.only && name && name !== this.only);
  }

  _enqueue(bar) {
    if (!this._keeps(bar.symbol)) return;
    this.queue.push(bar);
    this._request();
  }

  _signal(sig) {
    const b = this._book(sig.symbol ?? (this.symbol || null));
    if (!b) return;
    const long = sig.side === 'BUY';
    const entry = sig.action === 'ENTRY';
    b.markers.push(
      entry
        ? {
            time: toTime(sig.timestamp),
            position: long ? 'belowBar' : 'aboveBar',
            shape: long ? 'arrowUp' : 'arrowDown',
            color: long ? UP : DOWN,
            text: long ? 'Buy' : 'Sell',
          }
        : {
            time: toTime(sig.timestamp),
            position: 'aboveBar',
            shape: 'circle',
            color: '#546e7a',
            text: 'Exit',
          },
    );
    this.markerCount += 1;
    if (b === this.books.get(this.symbol)) this.markersDirty = true;
    this._request();
  }

  _line(name) {
    let line = this.lines.get(name);
    if (!line) {
      const pane = OSCILLATORS.test(name) ? 1 : 0;
      const color = LINE_COLORS[this.lines.size % LINE_COLORS.length];
      const series = this.chart.addSeries(
        LineSeries,
        { color, lineWidth: 1.5, title: name, priceLineVisible: false, lastValueVisible: false },
        pane,
      );
      line = { series };
      this.lines.set(name, line);
      if (pane === 1) this.chart.panes()[1]?.setHeight(Math.round(this.root.clientHeight * 0.25) || 80);
    }
    return line;
  }

  _request() {
    if (this._frame === null) this._frame = this._schedule(() => this.flush(false));
  }

  /** Draw queued bars and markers (normally once per animation frame); `force` draws all. */
  flush(force = true) {
    this._frame = null;
    const bars = this.queue;
    this.queue = [];
    let fresh = 0; // new bars of the shown symbol
    for (const bar of bars) if ((bar.symbol ?? this.symbol ?? '') === (this.symbol ?? '') || !this.books.size) fresh += 1;
    const incremental = !this._stale && fresh <= INCREMENTAL;
    let added = 0;
    for (const bar of bars) {
      const b = this._book(bar.symbol ?? null);
      if (!b) continue;
      const time = toTime(bar.timestamp);
      if (b.lastTime !== null && time <= b.lastTime) continue; // out of order: skip
      b.lastTime = time;
      const candle = { time, open: bar.open, high: bar.high, low: bar.low, close: bar.close };
      const vol = { time, value: bar.volume ?? 0, color: bar.close >= bar.open ? VOLUME_UP : VOLUME_DOWN };
      b.candles.push(candle);
      b.volume.push(vol);
      added += 1;
      const drawNow = incremental && b === this.books.get(this.symbol);
      if (drawNow) {
        this.candles.update(candle);
        this.volume.update(vol);
      }
      if (bar.indicators) {
        for (const name in bar.indicators) {
          const value = bar.indicators[name];
          const point = value === null || value === undefined ? { time } : { time, value };
          let points = b.lines.get(name);
          if (!points) b.lines.set(name, (points = []));
          points.push(point);
          if (drawNow) this._line(name).series.update(point);
          else if (!this.lines.has(name)) this._line(name);
        }
      }
    }
    const book_ = this.books.get(this.symbol);
    if (!incremental) this._stale = true;
    this.drawn += added;
    if (this._stale && book_) {
      const now = nowMs();
      if (force || now - this._lastBulk >= Math.max(BULK_MIN_MS, BULK_GAP * this._bulkCost)) {
        this.candles.setData(book_.candles);
        this.volume.setData(book_.volume);
        for (const [name, line] of this.lines) line.series.setData(book_.lines.get(name) || []);
        this._stale = false;
        this._lastBulk = nowMs();
        this._bulkCost = this._lastBulk - now;
      } else {
        this._request();
        this._publish(book_);
        return; // drawn (with the markers) on a later frame
      }
    }
    if (book_) this.shownDrawn = book_.candles.length;
    if (this.markersDirty && book_) {
      this.markersDirty = false;
      // Hundreds of labels hide the candles: past MANY_MARKERS only the shapes stay.
      const list = book_.markers;
      this.markers.setMarkers(
        list.length > MANY_MARKERS ? list.map((m) => ({ ...m, text: undefined })) : list.slice(),
      );
    }
    this._publish(book_);
  }

  _publish(shown) {
    // Candles: every kept symbol's bars charted so far, less the shown symbol's bars
    // still waiting for their redraw; markers: every kept symbol's.
    const waiting = shown ? shown.candles.length - this.shownDrawn : 0;
    this.root.dataset.candles = String(this.drawn - waiting);
    this.root.dataset.markers = String(this.markerCount);
    if (this.symbol) this.root.dataset.symbol = this.symbol;
    else delete this.root.dataset.symbol;
  }

  _setStatus(status) {
    this.root.dataset.status = status;
  }

  /** Fit the whole run into view. */
  fit() {
    this.chart.timeScale().fitContent();
  }

  destroy() {
    this.chart.remove();
  }
}

function nowMs() {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

function defaultSchedule(fn) {
  // Animation frames stop in a hidden tab; a timer keeps the chart (and its counts) current.
  if (typeof document !== 'undefined' && document.visibilityState === 'visible' && typeof requestAnimationFrame === 'function') {
    return requestAnimationFrame(fn);
  }
  return setTimeout(fn, 16);
}

/** Equity curve with its drawdown (in %, a pane below): `set(equityCurve)`. */
export class EquityChart {
  constructor(root) {
    this.root = root;
    this.chart = createChart(root, baseOptions(root));
    this.equity = this.chart.addSeries(LineSeries, { color: '#2962ff', lineWidth: 2, title: 'Equity' });
    this.drawdown = this.chart.addSeries(
      HistogramSeries,
      { color: 'rgba(239,83,80,0.5)', title: 'Drawdown %', priceLineVisible: false },
      1,
    );
    this.set([]);
  }

  set(points) {
    const equity = [];
    const drawdown = [];
    let peak = -Infinity;
    let last = null;
    for (const p of points || []) {
      const time = toTime(p.timestamp);
      if (last !== null && time <= last) continue;
      last = time;
      peak = Math.max(peak, p.equity);
      equity.push({ time, value: p.equity });
      drawdown.push({ time, value: peak > 0 ? (100 * (p.equity - peak)) / peak : 0 });
    }
    this.equity.setData(equity);
    this.drawdown.setData(drawdown);
    this.chart.panes()[1]?.setHeight(Math.round((this.root.clientHeight || 240) * 0.3));
    this.chart.timeScale().fitContent();
    this.root.dataset.points = String(equity.length);
  }

  destroy() {
    this.chart.remove();
  }
}

/** Profit per day as green/red bars: `set(dailyStats)`. */
export class DailyChart {
  constructor(root) {
    this.root = root;
    this.chart = createChart(root, baseOptions(root, { timeScale: { borderVisible: false } }));
    this.bars = this.chart.addSeries(HistogramSeries, { title: 'Daily P&L', priceLineVisible: false });
    this.set([]);
  }

  set(days) {
    const data = [];
    let last = null;
    for (const d of days || []) {
      const time = toTime(d.day);
      if (last !== null && time <= last) continue;
      last = time;
      data.push({ time, value: d.profit, color: d.profit >= 0 ? UP : DOWN });
    }
    this.bars.setData(data);
    this.chart.timeScale().fitContent();
    this.root.dataset.points = String(data.length);
  }

  destroy() {
    this.chart.remove();
  }
}

/** Several equity curves overlaid: `set([{label, points}])`. */
export class CompareChart {
  constructor(root) {
    this.root = root;
    this.chart = createChart(root, baseOptions(root));
    this.series = [];
    this.set([]);
  }

  set(curves) {
    for (const s of this.series) this.chart.removeSeries(s);
    this.series = [];
    let total = 0;
    (curves || []).forEach((curve, i) => {
      const s = this.chart.addSeries(LineSeries, {
        color: LINE_COLORS[i % LINE_COLORS.length],
        lineWidth: 2,
        title: curve.label,
        priceLineVisible: false,
      });
      const data = [];
      let last = null;
      for (const p of curve.points || []) {
        const time = toTime(p.timestamp);
        if (last !== null && time <= last) continue;
        last = time;
        data.push({ time, value: p.equity });
      }
      s.setData(data);
      total += data.length;
      this.series.push(s);
    });
    this.chart.timeScale().fitContent();
    this.root.dataset.points = String(total);
  }

  destroy() {
    this.chart.remove();
  }
}
