// algobt.widgets.Heatmap: one metric over two parameters of a sweep, as a coloured grid.
// Rows of a tidy table (one column per parameter, one per metric); where several rows share
// a cell (other parameters vary) the cell shows the best of them (max, or min if asked).
import { html, render } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';

const fmt = (v) => (v === null || v === undefined || Number.isNaN(v) ? '' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2));

function color(t) {
  // red (worst) → white → green (best)
  const lerp = (a, b, u) => Math.round(a + (b - a) * u);
  if (t < 0.5) {
    const u = t / 0.5;
    return `rgb(${lerp(214, 255, u)},${lerp(69, 255, u)},${lerp(65, 255, u)})`;
  }
  const u = (t - 0.5) / 0.5;
  return `rgb(${lerp(255, 30, u)},${lerp(255, 142, u)},${lerp(255, 126, u)})`;
}

export function grid(rows, x, y, metric, lowerIsBetter) {
  const xs = [...new Set(rows.map((r) => r[x]))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const ys = [...new Set(rows.map((r) => r[y]))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const cells = new Map();
  for (const r of rows) {
    const v = r[metric];
    if (v === null || v === undefined || Number.isNaN(v)) continue;
    const key = `${r[x]}\u0000${r[y]}`;
    const old = cells.get(key);
    if (old === undefined || (lowerIsBetter ? v < old : v > old)) cells.set(key, v);
  }
  return { xs, ys, cells };
}

function App({ model }) {
  const [state, setState] = useState(() => ({ x: model.get('x'), y: model.get('y'), metric: model.get('metric') }));
  useEffect(() => {
    const on = () => setState({ x: model.get('x'), y: model.get('y'), metric: model.get('metric') });
    model.on('change', on);
    return () => model.off('change', on);
  }, []);
  const rows = model.get('rows');
  const params = model.get('parameters');
  const metrics = model.get('metrics');
  const lower = model.get('lower_is_better').includes(state.metric);
  const { xs, ys, cells } = grid(rows, state.x, state.y, state.metric, lower);
  const values = [...cells.values()];
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const scale = (v) => {
    const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    return lower ? 1 - t : t;
  };
  const pick = (key) => (ev) => {
    model.set(key, ev.currentTarget.value);
    model.save_changes();
  };
  const select = (key, options) =>
    html`<select data-testid=${`heatmap-${key}`} value=${state[key]} onChange=${pick(key)}>
      ${options.map((o) => html`<option value=${o}>${o}</option>`)}
    </select>`;
  return html`<div class="algobt-widget heatmap-widget">
    <div class="controls">
      <label class="speed">metric ${select('metric', metrics)}</label>
      <label class="speed">x ${select('x', params)}</label>
      <label class="speed">y ${select('y', params)}</label>
    </div>
    <div class="table-wrap">
      <table class="heatmap" data-testid="heatmap" data-metric=${state.metric} data-cells=${String(cells.size)}>
        <thead><tr><th>${state.y} \\ ${state.x}</th>${xs.map((v) => html`<th>${v}</th>`)}</tr></thead>
        <tbody>
          ${ys.map(
            (yv) => html`<tr><th scope="row">${yv}</th>
              ${xs.map((xv) => {
                const v = cells.get(`${xv}\u0000${yv}`);
                const has = v !== undefined;
                return html`<td data-testid="heatmap-cell" data-x=${String(xv)} data-y=${String(yv)}
                  data-value=${has ? String(v) : undefined} style=${has ? { background: color(scale(v)) } : {}}
                  title=${has ? `${state.x}=${xv}, ${state.y}=${yv}: ${state.metric} ${v}` : ''}>${has ? fmt(v) : ''}</td>`;
              })}
            </tr>`,
          )}
        </tbody>
      </table>
    </div>
  </div>`;
}

export default {
  render({ model, el }) {
    render(html`<${App} model=${model} />`, el);
    return () => render(null, el);
  },
};
