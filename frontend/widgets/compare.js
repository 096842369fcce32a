// algobt.widgets.Compare: runs side by side (metrics table, best per metric) and their
// equity curves overlaid, with the page's compare view.
import { html, render } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import { CompareChart } from '../src/chart.js';
import { CompareView } from '../src/components/History.js';

function App({ model }) {
  const compare = model.get('compare');
  const ref = useRef(null);
  useEffect(() => {
    const chart = new CompareChart(ref.current);
    chart.set(model.get('curves'));
    return () => chart.destroy();
  }, []);
  return html`<div class="algobt-widget compare"><${CompareView} compare=${compare} chartRef=${ref} /></div>`;
}

export default {
  render({ model, el }) {
    render(html`<${App} model=${model} />`, el);
    return () => render(null, el);
  },
};
