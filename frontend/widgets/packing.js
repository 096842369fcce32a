// The stream's messages back from the widget's comm messages (algobt/widgets/_packing.py):
// a `candles` group arrives as float64 columns in binary buffers, NaN standing for null.

function column(view, n) {
  // Buffers arrive as DataViews, not always 8-byte aligned: copy into a fresh array.
  const bytes = new Uint8Array(view.buffer, view.byteOffset, n * 8);
  return new Float64Array(bytes.slice().buffer);
}

const num = (x) => (Number.isNaN(x) ? null : x);

/** The stream message a comm message carries. */
export function unpack(content, buffers) {
  if (content.type === 'event') return content.event;
  const n = content.n;
  const cols = (buffers || []).map((b) => column(b, n));
  const at = {};
  content.columns.forEach((c, i) => (at[c] = cols[i]));
  const names = content.indicators;
  const first = content.columns.length;
  const bars = new Array(n);
  for (let j = 0; j < n; j++) {
    const bar = {
      type: 'candle',
      symbol: content.symbol,
      bar_number: at.bar_number[j],
      progress: at.progress[j],
      timestamp: content.timestamps[j],
      open: at.open[j],
      high: at.high[j],
      low: at.low[j],
      close: at.close[j],
      volume: at.volume[j],
      equity: num(at.equity[j]),
    };
    if (names) {
      bar.indicators = {};
      names.forEach((k, i) => (bar.indicators[k] = num(cols[first + i][j])));
    }
    bars[j] = bar;
  }
  return { type: 'candles', symbol: content.symbol, bars };
}
