'use strict';
// An in-process store of entries, bounded: the least recently used goes first.

class LruStore {
  constructor(maxEntries = 10000) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    this.maxEntries = maxEntries;
    this.entries = new Map(); // Map order = LRU order
  }

  get size() {
    return this.entries.size;
  }

  async get(key) {
    const e = this.entries.get(key);
    if (e === undefined) return null;
    this.entries.delete(key);
    this.entries.set(key, e);
    return { domains: [...e.domains], versions: [...e.versions], value: e.value };
  }

  async put(key, entry) {
    this.entries.delete(key);
    this.entries.set(key, { domains: [...entry.domains], versions: [...entry.versions], value: entry.value });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value);
  }

  async erase(key) {
    this.entries.delete(key);
  }

  async clear() {
    this.entries.clear();
  }
}

module.exports = { LruStore };
