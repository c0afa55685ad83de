'use strict';
// Exponential backoff with jitter: delays in [base/2, base), base doubling up to max.
class Backoff {
  constructor(minMs = 100, maxMs = 5000, random = Math.random) {
    if (!(minMs > 0) || !(maxMs >= minMs)) throw new RangeError('backoff needs 0 < minMs <= maxMs');
    this.minMs = minMs;
    this.maxMs = maxMs;
    this.random = random;
    this.attempt = 0;
  }

  next() {
    const base = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt++, 30));
    return base / 2 + this.random() * (base / 2);
  }

  reset() {
    this.attempt = 0;
  }
}

module.exports = { Backoff };
