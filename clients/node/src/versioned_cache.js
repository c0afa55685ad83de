'use strict';
// The cache protocol over a VersionWatcher and a store:
//   1. v := the versions of the key's domains for the tenant, BEFORE computing;
//   2. an entry tagged with exactly v (same domains, same versions): a hit;
//   3. otherwise compute, store (value, v), return the value.
// An entry tagged with older versions than its data is a later spurious miss,
// never a stale hit. A failing store is a miss, never a hit; versions that
// cannot be read mean "compute, don't cache".

const { normalizeTenant, checkDomains } = require('./types');

const codecs = {
  json: { encode: (v) => JSON.stringify(v), decode: (s) => JSON.parse(s) },
  string: {
    encode: (v) => {
      if (typeof v !== 'string') throw new TypeError('the string codec stores strings only');
      return v;
    },
    decode: (s) => s,
  },
};

const sameList = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

class VersionedCache {
  // name prefixes every store key; codec: { encode(value) -> string, decode(string) -> value }.
  constructor(watcher, store, { name = '', codec = codecs.json } = {}) {
    if (!watcher || typeof watcher.versions !== 'function') throw new TypeError('VersionedCache needs a VersionWatcher');
    if (!store || typeof store.get !== 'function' || typeof store.put !== 'function') throw new TypeError('VersionedCache needs a store');
    this.watcher = watcher;
    this.store = store;
    this.name = String(name);
    this.codec = codec;
    this.counters = { hits: 0, misses: 0, refusedStale: 0, uncached: 0, storeErrors: 0 };
  }

  storeKey(tenant, key) {
    return `${this.name}${this.name ? ':' : ''}${tenant}:${key}`;
  }

  async getOrCompute(key, tenant, domains, compute) {
    return (await this.fetch(key, tenant, domains, compute)).value;
  }

  // { value, outcome: 'hit' | 'miss' | 'uncached', versions }
  async fetch(key, tenantIn, domains, compute) {
    if (typeof key !== 'string' || key.length === 0) throw new TypeError('key must be a non-empty string');
    if (typeof compute !== 'function') throw new TypeError('compute must be a function');
    const tenant = normalizeTenant(tenantIn);
    checkDomains(domains);
    let versions;
    try {
      versions = await this.watcher.versions(tenant, domains);
    } catch (e) {
      this.counters.uncached++;
      return { value: await compute(), outcome: 'uncached', versions: null, error: e };
    }
    const skey = this.storeKey(tenant, key);
    try {
      const entry = await this.store.get(skey);
      if (entry) {
        if (sameList(entry.domains, domains) && sameList(entry.versions, versions)) {
          const value = this.codec.decode(entry.value);
          this.counters.hits++;
          return { value, outcome: 'hit', versions };
        }
        this.counters.refusedStale++;
      }
    } catch (e) {
      this.counters.storeErrors++;
    }
    this.counters.misses++;
    const value = await compute();
    try {
      await this.store.put(skey, { domains: [...domains], versions, value: this.codec.encode(value) });
    } catch (e) {
      this.counters.storeErrors++;
    }
    return { value, outcome: 'miss', versions };
  }

  async invalidate(key, tenantIn) {
    await this.store.erase(this.storeKey(normalizeTenant(tenantIn), key));
  }
}

module.exports = { VersionedCache, codecs };
