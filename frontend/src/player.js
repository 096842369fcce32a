// Plays a run's events to a handler at a chosen pace, with pause and resume.
//
// The server sends as fast as we read; the player keeps the events in order and hands
// them on: all at once (speed 0, one frame's worth per tick) or `speed` bars per second.
// A `candles` batch is split into bars when pacing. Pausing holds the queue; nothing is
// dropped. Shared by the page and the notebook widget (no page globals).

export class Player {
  /** onEvent(event) is called for each event, in order. */
  constructor(onEvent, { speed = 0, now, schedule } = {}) {
    this.onEvent = onEvent;
    this.speed = Number(speed) || 0;
    this.now = now || (() => performance.now());
    this.schedule = schedule || ((fn) => setTimeout(fn, 16));
    this.queue = [];
    this.head = 0;
    this.paused = false;
    this.timer = null;
    this.credit = 0;
    this.lastTick = null;
  }

  push(event) {
    this.queue.push(event);
    this._wake();
  }

  setSpeed(speed) {
    this.speed = Math.max(0, Number(speed) || 0);
    this.credit = 0;
    this.lastTick = null;
    this._wake();
  }

  pause() {
    this.paused = true;
  }

  resume() {
    this.paused = false;
    this.lastTick = null;
    this._wake();
  }

  /** Drop everything queued (a cancelled or replaced run). */
  clear() {
    this.queue = [];
    this.head = 0;
    this.credit = 0;
  }

  get pending() {
    return this.queue.length - this.head;
  }

  _wake() {
    if (this.timer === null && !this.paused && this.pending > 0) {
      this.timer = this.schedule(() => this._tick());
    }
  }

  /** The next event, let go of by the queue (a long run's bars are not kept twice). */
  _take() {
    const event = this.queue[this.head];
    this.queue[this.head] = undefined;
    this.head += 1;
    return event;
  }

  _tick() {
    this.timer = null;
    if (this.paused) return;
    if (this.speed <= 0) {
      while (this.head < this.queue.length && !this.paused) this.onEvent(this._take());
    } else {
      const t = this.now();
      if (this.lastTick !== null) this.credit += ((t - this.lastTick) / 1000) * this.speed;
      else this.credit = Math.max(this.credit, 1);
      this.lastTick = t;
      while (this.head < this.queue.length && !this.paused) {
        const event = this.queue[this.head];
        if (event.type === 'candle' || event.type === 'candles') {
          if (this.credit < 1) break;
          if (event.type === 'candles' && event.bars.length > 1) {
            const n = Math.min(Math.floor(this.credit), event.bars.length);
            this.onEvent({ ...event, bars: event.bars.slice(0, n) });
            this.credit -= n;
            if (n < event.bars.length) {
              this.queue[this.head] = { ...event, bars: event.bars.slice(n) };
              continue;
            }
          } else {
            this.onEvent(this._take());
            this.credit -= 1;
            continue;
          }
          this._take();
        } else {
          this.onEvent(this._take());
        }
      }
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this._wake();
  }
}
