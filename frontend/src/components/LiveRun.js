// The run as it happens: controls, status, progress, live cards, the chart, the signal log.
import { html } from 'htm/preact';
import { money, pct, price, raw, when } from '../format.js';

const STATUS_TEXT = {
  idle: 'Ready',
  validating: 'Validating the strategy…',
  connecting: 'Connecting…',
  streaming: 'Running',
  paused: 'Paused',
  complete: 'Complete',
  error: 'Failed',
  cancelled: 'Cancelled',
};

export function Controls({ status, speed, onRun, onPause, onCancel, onSpeed, progress }) {
  const running = ['validating', 'connecting', 'streaming', 'paused'].includes(status);
  const { current = 0, total = 0 } = progress;
  return html`<div class="controls">
    <button type="button" class="primary" data-testid="run-button" onClick=${onRun} disabled=${running}>Run backtest</button>
    <button type="button" data-testid="pause-button" onClick=${onPause} disabled=${!(status === 'streaming' || status === 'paused')}>
      ${status === 'paused' ? 'Resume' : 'Pause'}
    </button>
    <button type="button" data-testid="cancel-button" onClick=${onCancel} disabled=${!running}>Cancel</button>
    <label class="speed">Speed (bars/s, 0 = max)
      <input data-testid="speed-input" type="number" min="0" step="1" value=${speed} onInput=${(ev) => onSpeed(ev.currentTarget.value)} />
    </label>
    <span class="status" data-testid="run-status" data-status=${status} role="status">${STATUS_TEXT[status] || status}</span>
    <span class="progress" data-testid="progress" data-current=${String(current)} data-total=${String(total)}>
      ${total ? `bar ${current.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}` : ''}
      <progress max=${total || 1} value=${current}></progress>
    </span>
  </div>`;
}

export function Card({ testid, label, value, text }) {
  return html`<div class="card" data-testid=${testid} data-value=${raw(value)}>
    <div class="card-label">${label}</div><div class="card-value">${text}</div>
  </div>`;
}

export function LiveCards({ live }) {
  return html`<div class="cards live">
    <${Card} testid="live-trades" label="Trades" value=${live.trades} text=${live.trades ?? '–'} />
    <${Card} testid="live-win-rate" label="Win rate" value=${live.winRate} text=${pct(live.winRate)} />
    <${Card} testid="live-pnl" label="P&L" value=${live.pnl} text=${money(live.pnl)} />
  </div>`;
}

export function SignalLog({ signals }) {
  return html`<div class="signal-log">
    <h3>Last signals</h3>
    <table data-testid="signal-log">
      <thead><tr><th>Time</th><th>Action</th><th>Side</th><th>Price</th><th>Size</th><th>P&L</th></tr></thead>
      <tbody>
        ${signals.map(
          (s) => html`<tr data-testid="signal-row" class=${s.action === 'ENTRY' ? 'entry' : 'exit'}>
            <td>${when(s.timestamp)}</td><td>${s.action}</td><td>${s.side}</td><td>${price(s.price)}</td>
            <td>${s.size ?? ''}</td><td data-value=${raw(s.pnl)}>${s.pnl === null || s.pnl === undefined ? '' : money(s.pnl)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}
