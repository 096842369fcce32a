// The notebook's LiveChart (algobt.widgets.LiveChart): the page's chart module fed with the
// run's events from the kernel. Python paces the replay; this draws what arrives.
import { html, render } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { LiveChart } from '../src/chart.js';
import { Controls, LiveCards, SignalLog } from '../src/components/LiveRun.js';
import { unpack } from './packing.js';

function App({ model, view }) {
  const chartRef = useRef(null);
  const chart = useRef(null);
  const [status, setStatus] = useState(model.get('status'));
  const [speed, setSpeed] = useState(model.get('speed'));
  const [progress, setProgress] = useState({ current: 0, total: model.get('total_bars') || 0 });
  const [live, setLive] = useState({ trades: null, winRate: null, pnl: null });
  const [signals, setSignals] = useState([]);
  const [error, setError] = useState(null);

  useEffect(() => {
    chart.current = new LiveChart(chartRef.current);
    const onStatus = () => setStatus(model.get('status'));
    const onSpeed = () => setSpeed(model.get('speed'));
    model.on('change:status', onStatus);
    model.on('change:speed', onSpeed);
    const onMsg = (content, buffers) => {
      if (content.to !== undefined && content.to !== view) return; // another view's history
      const event = unpack(content, buffers);
      chart.current.handle(event);
      switch (event.type) {
        case 'metadata':
          if (event.total_bars) setProgress((p) => ({ ...p, total: event.total_bars }));
          break;
        case 'candles': {
          const last = event.bars[event.bars.length - 1];
          if (last) setProgress((p) => ({ ...p, current: p.current + event.bars.length }));
          break;
        }
        case 'signal':
          setSignals((s) => [event, ...s].slice(0, 10));
          break;
        case 'stats':
          setLive({ trades: event.total_trades, winRate: event.win_rate, pnl: event.pnl });
          break;
        case 'complete': {
          const m = event.metrics || {};
          setLive({ trades: m.total_trades, winRate: m.win_rate, pnl: m.net_profit });
          chart.current.fit();
          break;
        }
        case 'error':
          setError(event.message);
          break;
        default:
          break;
      }
    };
    model.on('msg:custom', onMsg);
    model.send({ action: 'ready', view });
    return () => {
      model.off('msg:custom', onMsg);
      model.off('change:status', onStatus);
      model.off('change:speed', onSpeed);
      chart.current.destroy();
    };
  }, []);

  const onPause = () => model.send({ action: status === 'paused' ? 'resume' : 'pause' });
  const onSpeed = (value) => {
    model.set('speed', Math.max(0, Number(value) || 0));
    model.save_changes();
  };
  return html`<div class="algobt-widget live">
    <${Controls}
      status=${status}
      speed=${speed}
      progress=${progress}
      onRun=${() => model.send({ action: 'play' })}
      onPause=${onPause}
      onCancel=${() => model.send({ action: 'cancel' })}
      onSpeed=${onSpeed}
    />
    ${error && html`<div class="error-message" data-testid="error-message">${error}</div>`}
    <${LiveCards} live=${live} />
    <div class="chart live-chart" data-testid="live-chart" ref=${chartRef}></div>
    <${SignalLog} signals=${signals} />
  </div>`;
}

let views = 0;

export default {
  render({ model, el }) {
    const view = `${Date.now().toString(36)}-${views++}`;
    render(html`<${App} model=${model} view=${view} />`, el);
    return () => render(null, el);
  },
};
