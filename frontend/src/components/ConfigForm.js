// The configuration form: strategy, code and its validation, symbol(s), period, timeframe,
// money settings and indicator overlays. Option values are the API's own spellings.
import { html } from 'htm/preact';

export const PERIODS = [
  ['1wk', '1 week'],
  ['1mo', '1 month'],
  ['3mo', '3 months'],
  ['6mo', '6 months'],
  ['1y', '1 year'],
  ['2y', '2 years'],
  ['5y', '5 years'],
  ['custom', 'Custom dates'],
];
export const TIMEFRAMES = ['1m', '5m', '15m', '30m', '1h', '4h', '1d', '1w'];
export const OVERLAYS = [
  ['ema', 'EMA 9 / 21'],
  ['sma', 'SMA 20 / 50'],
  ['rsi', 'RSI 14'],
];

// The API's field names that each input answers for (errors are shown next to it).
export const FIELDS_OF = {
  strategy: ['strategy_id'],
  code: ['strategy_code', 'code'],
  symbol: ['symbol', 'symbols'],
  period: ['period'],
  start: ['start_date'],
  end: ['end_date'],
  timeframe: ['interval', 'timeframe'],
  balance: ['initial_balance', 'initial_capital', 'cash'],
  commission: ['commission'],
  slippage: ['slippage'],
};

function FieldErrors({ names, errors }) {
  return names
    .filter((name) => errors[name])
    .map(
      (name) =>
        html`<div class="field-error" role="alert" data-testid="field-error" data-field=${name}>${errors[name]}</div>`,
    );
}

function Validation({ validation }) {
  if (!validation) return html`<div data-testid="validation-result" class="validation" hidden></div>`;
  const { valid, kind, errors = [], parameters = {} } = validation;
  const params = Object.entries(parameters || {});
  return html`<div data-testid="validation-result" class=${`validation ${valid ? 'ok' : 'bad'}`} data-valid=${String(!!valid)}>
    ${valid
      ? html`<span>Valid ${kind === 'json' ? 'JSON rule spec' : 'Python strategy'}${params.length ? ': ' : ''}${params
          .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
          .join(', ')}</span>`
      : html`<ul>
          ${errors.map(
            (e) =>
              html`<li class="validation-error" data-line=${e.line ?? ''} data-column=${e.column ?? ''} data-path=${e.path ?? ''}>
                <code>${e.path ? `${e.path} ` : ''}line ${e.line ?? '?'}${e.column ? `, column ${e.column}` : ''}</code>: ${e.message}
              </li>`,
          )}
        </ul>`}
  </div>`;
}

export function ConfigForm({ form, set, strategies, symbols, validation, fieldErrors, busy, onValidate, onStrategy }) {
  const field = (key) => (ev) => set({ [key]: ev.currentTarget.value });
  const errs = (key) => html`<${FieldErrors} names=${FIELDS_OF[key]} errors=${fieldErrors} />`;
  const toggle = (key) => (ev) => set({ overlays: { ...form.overlays, [key]: ev.currentTarget.checked } });
  return html`<form class="config" onSubmit=${(ev) => ev.preventDefault()} novalidate>
    <h2>Strategy</h2>
    <label>Stored strategy
      <select data-testid="strategy-select" value=${form.strategyId} onChange=${(ev) => onStrategy(ev.currentTarget.value)}>
        <option value="">— new strategy (paste code below) —</option>
        ${strategies.map((s) => html`<option value=${String(s.id)}>${s.name}</option>`)}
      </select>
    </label>
    ${errs('strategy')}
    <label>Code (Python or canonical JSON)
      <textarea data-testid="strategy-code" spellcheck="false" rows="12" value=${form.code} onInput=${field('code')}></textarea>
    </label>
    ${errs('code')}
    <div class="row">
      <button type="button" data-testid="validate-button" onClick=${onValidate} disabled=${busy}>Validate</button>
    </div>
    <${Validation} validation=${validation} />

    <h2>Market</h2>
    <label>Symbol(s), comma-separated
      <input data-testid="symbol-input" list="symbol-suggestions" autocomplete="off" value=${form.symbol} onInput=${field('symbol')} />
      <datalist id="symbol-suggestions">
        ${symbols.map((s) => html`<option value=${s.symbol}>${s.name || ''}</option>`)}
      </datalist>
    </label>
    ${errs('symbol')}
    <div class="pair">
      <label>Period
        <select data-testid="period-select" value=${form.period} onChange=${field('period')}>
          ${PERIODS.map(([v, label]) => html`<option value=${v}>${label}</option>`)}
        </select>
      </label>
      <label>Timeframe
        <select data-testid="timeframe-select" value=${form.timeframe} onChange=${field('timeframe')}>
          ${TIMEFRAMES.map((v) => html`<option value=${v}>${v}</option>`)}
        </select>
      </label>
    </div>
    ${errs('period')} ${errs('timeframe')}
    ${form.period === 'custom' &&
    html`<div class="pair">
      <label>Start <input type="date" data-testid="start-date" value=${form.start} onInput=${field('start')} /></label>
      <label>End <input type="date" data-testid="end-date" value=${form.end} onInput=${field('end')} /></label>
    </div>`}
    ${errs('start')} ${errs('end')}

    <h2>Broker</h2>
    <label>Initial balance
      <input data-testid="initial-balance" type="number" min="0" step="any" inputmode="decimal" value=${form.balance} onInput=${field('balance')} />
    </label>
    ${errs('balance')}
    <div class="pair">
      <label>Commission (% per side)
        <input data-testid="commission" type="number" min="0" step="any" inputmode="decimal" value=${form.commission} onInput=${field('commission')} />
      </label>
      <label>Slippage (% per fill)
        <input data-testid="slippage" type="number" min="0" step="any" inputmode="decimal" value=${form.slippage} onInput=${field('slippage')} />
      </label>
    </div>
    ${errs('commission')} ${errs('slippage')}
    <fieldset class="overlays"><legend>Chart overlays</legend>
      ${OVERLAYS.map(
        ([key, label]) =>
          html`<label class="check"><input type="checkbox" checked=${!!form.overlays[key]} onChange=${toggle(key)} /> ${label}</label>`,
      )}
    </fieldset>
  </form>`;
}
