'use strict';
// What a VersionWatcher guards, without I/O: the held versions, whether they
// can be trusted (healthy), the connection epoch, the global domains and the
// domain floors.
//
// The rules that keep a local answer from ever being staler than the
// notification delay:
//   - the map is trusted only while the listener is connected, has reloaded
//     every held pair after its LISTEN, and is live;
//   - every loss of the listener starts a new epoch; a pair read over SQL by a
//     caller becomes held only if the state stayed healthy in the epoch the
//     read started in (otherwise the next reload might not include it, and a
//     notification missed in between would go unnoticed);
//   - what is heard or read only ever raises a held version (maximum).

const { ALL_TENANTS, pairKey, parseLsn } = require('./types');

class WatcherState {
  constructor() {
    this.versions = new Map(); // pairKey -> version
    this.byDomain = new Map(); // domain -> Set(pairKey)
    this.globals = new Set();
    this.domainFloors = new Map(); // domain -> every tenant's version is >= this
    this.lsns = new Map(); // pairKey -> lsn of the last notification that raised it
    this.lastLsn = null;
    this.healthy = false;
    this.epoch = 0;
  }

  get size() {
    return this.versions.size;
  }

  // The key a (tenant, domain) is held under: global domains under all-tenants.
  effectiveKey(tenant, domain) {
    return pairKey(this.globals.has(domain) ? ALL_TENANTS : tenant, domain);
  }

  // { outcome: 'local' | 'missing' | 'unhealthy', versions, epoch }
  lookup(tenant, domains, live) {
    if (!this.healthy || !live) return { outcome: 'unhealthy', versions: null, epoch: this.epoch };
    const out = [];
    for (const d of domains) {
      const v = this.versions.get(this.effectiveKey(tenant, d));
      if (v === undefined) return { outcome: 'missing', versions: null, epoch: this.epoch };
      out.push(v);
    }
    return { outcome: 'local', versions: out, epoch: this.epoch };
  }

  // Raises (or, with mayHold, inserts) one pair; returns the new version if it went up.
  _merge(key, domain, version, mayHold) {
    const floor = this.domainFloors.get(domain);
    const v = floor !== undefined && floor > version ? floor : version;
    const held = this.versions.get(key);
    if (held === undefined) {
      if (!mayHold) return undefined;
      this.versions.set(key, v);
      let keys = this.byDomain.get(domain);
      if (!keys) this.byDomain.set(domain, (keys = new Set()));
      keys.add(key);
      return v;
    }
    if (held >= v) return undefined;
    this.versions.set(key, v);
    return v;
  }

  // What the listener heard. Returns the updates that raised a version.
  applyHeard(updates) {
    const raised = [];
    for (const u of updates) {
      const key = pairKey(u.tenant, u.domain);
      if (u.lsn !== undefined) {
        this.lsns.set(key, u.lsn);
        if (this.lastLsn === null || parseLsn(u.lsn) > parseLsn(this.lastLsn)) this.lastLsn = u.lsn;
      }
      if (u.domainFloor !== undefined && u.tenant === ALL_TENANTS) raised.push(...this._raiseFloor(u.domain, u.domainFloor));
      const v = this._merge(key, u.domain, u.version, true);
      if (v !== undefined) raised.push({ key, tenant: u.tenant, domain: u.domain, version: v });
    }
    return raised;
  }

  // Every tenant of `domain` is at >= floor: raise every held pair of it.
  _raiseFloor(domain, floor) {
    const previous = this.domainFloors.get(domain);
    if (previous !== undefined && previous >= floor) return [];
    this.domainFloors.set(domain, floor);
    const raised = [];
    for (const key of this.byDomain.get(domain) || []) {
      const v = this._merge(key, domain, floor, false);
      if (v !== undefined) raised.push({ key, tenant: key.slice(0, key.indexOf('|')), domain, version: v });
    }
    return raised;
  }

  // What a caller read over SQL ({version, global} per domain), the read
  // having started in `epoch`. Returns { raised, merged } where merged[i] is
  // the larger of the read and the held version.
  applyRead(tenant, domains, reads, epoch, live) {
    const mayHold = this.healthy && live && epoch === this.epoch;
    const raised = [];
    const merged = [];
    domains.forEach((d, i) => {
      const { version, global } = reads[i];
      if (global && mayHold) this.globals.add(d);
      const owner = global ? ALL_TENANTS : tenant;
      const key = pairKey(owner, d);
      const v = this._merge(key, d, version, mayHold);
      if (v !== undefined) raised.push({ key, tenant: owner, domain: d, version: v });
      const held = this.versions.get(key);
      const floor = this.domainFloors.get(d);
      merged.push(Math.max(version, held === undefined ? 0 : held, floor === undefined ? 0 : floor));
    });
    return { raised, merged };
  }

  heldPairs() {
    return [...this.versions.keys()].map((key) => {
      const bar = key.indexOf('|');
      return { key, tenant: key.slice(0, bar), domain: key.slice(bar + 1) };
    });
  }

  // A completed reload of `pairs` (read after LISTEN): raises them, replaces
  // the global domains, and (unless something asked for distrust while it
  // ran: makeHealthy false) makes the state healthy.
  applyLoad(pairs, versions, globals, makeHealthy = true) {
    const raised = [];
    pairs.forEach((p, i) => {
      const v = this._merge(p.key, p.domain, versions[i], false);
      if (v !== undefined) raised.push({ key: p.key, tenant: p.tenant, domain: p.domain, version: v });
    });
    this.globals = new Set(globals);
    if (makeHealthy) this.healthy = true;
    return raised;
  }

  // The listener is gone (or cannot be trusted): untrusted until the next applyLoad(), new epoch.
  markUnhealthy() {
    this.healthy = false;
    this.epoch++;
  }
}

module.exports = { WatcherState };
