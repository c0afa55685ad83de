'use strict';
// GraphQL responses by key, each tagged with the versions it was computed
// from and indexed by the (tenant, domain) pairs it depends on, so that a
// notification can drop them. At most `max` entries (least recently used out).

class ResponseCache {
  constructor(max = 1000) {
    this.max = max;
    this.entries = new Map(); // key -> { versions, body, pairs }; Map order = LRU order
    this.byPair = new Map(); // pair -> Set(key)
    this.stats = { hits: 0, misses: 0, refusedStale: 0, dropped: 0, bypass: 0 };
  }

  get size() {
    return this.entries.size;
  }

  // The body when an entry exists with exactly these versions.
  lookup(key, versions) {
    const e = this.entries.get(key);
    if (e && e.versions.length === versions.length && e.versions.every((v, i) => v === versions[i])) {
      this.entries.delete(key);
      this.entries.set(key, e); // most recently used
      this.stats.hits++;
      return e.body;
    }
    if (e) this.stats.refusedStale++;
    this.stats.misses++;
    return undefined;
  }

  store(key, versions, pairs, body) {
    this._remove(key);
    this.entries.set(key, { versions, pairs, body });
    for (const p of pairs) {
      if (!this.byPair.has(p)) this.byPair.set(p, new Set());
      this.byPair.get(p).add(key);
    }
    while (this.entries.size > this.max) this._remove(this.entries.keys().next().value);
  }

  // A newer version of `pair` exists: every entry that read it is stale.
  dropPair(pair) {
    const keys = this.byPair.get(pair);
    if (!keys) return 0;
    let n = 0;
    for (const k of [...keys]) {
      if (this._remove(k)) n++;
    }
    this.stats.dropped += n;
    return n;
  }

  _remove(key) {
    const e = this.entries.get(key);
    if (!e) return false;
    this.entries.delete(key);
    for (const p of e.pairs) {
      const s = this.byPair.get(p);
      if (s) {
        s.delete(key);
        if (s.size === 0) this.byPair.delete(p);
      }
    }
    return true;
  }
}

module.exports = { ResponseCache };
