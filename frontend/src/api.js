// Talking to the algobt server that served the page: its REST API and its WebSocket.
//
// The token comes once from `?token=` of the address (the URL `algobt serve` prints), is
// kept in sessionStorage for this tab and removed from the address bar, so it never lands
// in history, bookmarks or links. Requests send it as `Authorization: token …`; the
// WebSocket handshake (which cannot carry headers) sends it as `?token=`.

const KEY = 'algobt.token';

/** Read the token from the address (then hide it) or from this tab's storage. */
export function takeToken(win = window) {
  const url = new URL(win.location.href);
  const given = url.searchParams.get('token');
  if (given) {
    try {
      win.sessionStorage.setItem(KEY, given);
    } catch {
      /* storage disabled: the token lives in memory for this page only */
    }
    url.searchParams.delete('token');
    win.history.replaceState(win.history.state, '', url.pathname + url.search + url.hash);
    return given;
  }
  try {
    return win.sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

/** An error from the API, with the field it names (if any) and the HTTP status. */
export class ApiError extends Error {
  constructor(message, { status = 0, code = null, field = null } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export class Api {
  constructor(token, base = '') {
    this.token = token;
    this.base = base;
  }

  async request(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (this.token) headers.Authorization = `token ${this.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let resp;
    try {
      resp = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
      });
    } catch {
      throw new ApiError('cannot reach the algobt server; is it still running?', { status: 0 });
    }
    const text = await resp.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!resp.ok) {
      const err = data && data.error ? data.error : {};
      let message = err.message || `${method} ${path} failed with HTTP ${resp.status}`;
      if (resp.status === 401) message = `${message}: open the page with the address algobt serve printed (…/?token=…)`;
      throw new ApiError(message, { status: resp.status, code: err.code, field: err.field });
    }
    return data;
  }

  get(path) {
    return this.request('GET', path);
  }

  post(path, body) {
    return this.request('POST', path, body ?? {});
  }

  /** The stream's WebSocket address on this server. */
  streamUrl(loc = window.location) {
    const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = this.token ? `?token=${encodeURIComponent(this.token)}` : '';
    return `${scheme}//${loc.host}/ws/backtest/stream/${q}`;
  }
}
