'use strict';
// The current pg_fraiseql_cache versions of this process, kept locally.
//
// One dedicated connection LISTENs on the worker's channel. On every
// (re)connect it first LISTENs, then reloads every version it holds with one
// query, then applies notifications, keeping the maximum of what it holds and
// hears (versions are absolute and monotonic). While it is not connected and
// loaded, versions() asks the server instead. A pair asked for the first time
// is read once over SQL and held from then on, but only if the listener stayed
// up during that read (the epoch check): otherwise the next reload might not
// include it and a missed notification would go unnoticed.

const { EventEmitter } = require('events');
const pg = require('pg');

const ALL_TENANTS = '00000000-0000-0000-0000-000000000000';

class VersionWatcher extends EventEmitter {
  // pool: a pg.Pool for SQL reads; clientConfig: for the listening pg.Client.
  constructor({ pool, clientConfig = {}, channel = 'cache_invalidation',
    reconnectMinMs = 100, reconnectMaxMs = 5000, pingMs = 2000, livenessMs = 6000 }) {
    super();
    this.pool = pool;
    this.clientConfig = clientConfig;
    this.channel = channel;
    this.reconnectMinMs = reconnectMinMs;
    this.reconnectMaxMs = reconnectMaxMs;
    this.pingMs = pingMs;
    this.livenessMs = livenessMs;
    this.versionsByPair = new Map(); // "tenant|domain" -> version
    this.globals = new Set();
    this.loaded = false;
    this.epoch = 0;
    this.lastHeard = 0;
    this.client = null;
    this.closed = false;
    this.attempt = 0;
    this.stats = { notifications: 0, payloadErrors: 0, connects: 0, loads: 0,
      localLookups: 0, firstReads: 0, sqlFallbacks: 0, refreshes: 0, heartbeats: 0 };
  }

  get healthy() {
    return this.loaded && Date.now() - this.lastHeard < this.livenessMs;
  }

  get listenerPid() {
    return this.client && this.client.processID ? this.client.processID : 0;
  }

  // The key a (tenant, domain) is held under: global domains under all-tenants.
  pairKey(tenant, domain) {
    return `${this.globals.has(domain) ? ALL_TENANTS : tenant}|${domain}`;
  }

  start() {
    this._connect();
  }

  async close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.client) await this.client.end().catch(() => {});
  }

  waitUntilHealthy(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve) => {
      const poll = () => {
        if (this.healthy) return resolve(true);
        if (Date.now() >= deadline) return resolve(false);
        setTimeout(poll, 10);
      };
      poll();
    });
  }

  // Step 1 of the cache protocol: the versions of (tenant, d) for each d.
  async versions(tenant, domains) {
    if (this.healthy) {
      const out = [];
      for (const d of domains) {
        const v = this.versionsByPair.get(this.pairKey(tenant, d));
        if (v === undefined) break;
        out.push(v);
      }
      if (out.length === domains.length) {
        this.stats.localLookups++;
        return out;
      }
      this.stats.firstReads++;
      return this._readAndMerge(tenant, domains, this.epoch, true);
    }
    this.stats.sqlFallbacks++;
    return this._readAndMerge(tenant, domains, this.epoch, false);
  }

  // Read-your-writes: after your own COMMIT, read and hold the new versions.
  async refresh(tenant, domains) {
    this.stats.refreshes++;
    return this._readAndMerge(tenant, domains, this.epoch, this.healthy);
  }

  async _readAndMerge(tenant, domains, epoch, mayHold) {
    const r = await this.pool.query(
      `SELECT fraiseql_cache.current_version($1::uuid, u.d) AS v,
              EXISTS (SELECT 1 FROM fraiseql_cache.tracked_tables t
                       WHERE t.domain = u.d AND t.tenant_column IS NULL) AS g
         FROM unnest($2::text[]) WITH ORDINALITY AS u(d, n) ORDER BY u.n`, [tenant, domains]);
    const hold = mayHold && this.healthy && epoch === this.epoch;
    return r.rows.map((row, i) => {
      const version = Number(row.v);
      if (row.g && hold) this.globals.add(domains[i]);
      const key = `${row.g ? ALL_TENANTS : tenant}|${domains[i]}`;
      const held = this.versionsByPair.get(key);
      if (held !== undefined || hold) this._merge(key, version);
      return Math.max(version, this.versionsByPair.get(key) ?? version);
    });
  }

  _merge(key, version) {
    const held = this.versionsByPair.get(key);
    if (held !== undefined && held >= version) return;
    this.versionsByPair.set(key, version);
    const bar = key.indexOf('|');
    this.emit('update', { tenant: key.slice(0, bar), domain: key.slice(bar + 1), version, key });
  }

  _onNotification(msg) {
    this.lastHeard = Date.now();
    if (msg.channel === `${this.channel}_heartbeat`) {
      this.stats.heartbeats++;
      return;
    }
    this.stats.notifications++;
    let parsed;
    try {
      parsed = JSON.parse(msg.payload);
    } catch (e) {
      parsed = null;
    }
    const updates = Array.isArray(parsed) ? parsed : [parsed];
    const valid = updates.every((u) => u && typeof u.tenant_id === 'string' &&
      typeof u.domain === 'string' && Number.isSafeInteger(u.version));
    if (!valid) {
      // Something we cannot read: reload everything rather than guess.
      this.stats.payloadErrors++;
      this._load(this.client).catch((e) => this._lost(e));
      return;
    }
    for (const u of updates) this._merge(`${u.tenant_id.toLowerCase()}|${u.domain}`, u.version);
  }

  async _load(client) {
    const keys = [...this.versionsByPair.keys()];
    const tenants = keys.map((k) => k.slice(0, k.indexOf('|')));
    const domains = keys.map((k) => k.slice(k.indexOf('|') + 1));
    const r = await client.query(
      `SELECT u.n, fraiseql_cache.current_version(u.t, u.d) AS v, NULL::text AS g
         FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS u(t, d, n)
       UNION ALL
       SELECT NULL, NULL, domain FROM fraiseql_cache.tracked_tables
        WHERE tenant_column IS NULL GROUP BY domain`, [tenants, domains]);
    if (client !== this.client) return;
    this.stats.loads++;
    this.lastHeard = Date.now();
    this.globals = new Set(r.rows.filter((row) => row.n === null).map((row) => row.g));
    for (const row of r.rows) if (row.n !== null) this._merge(keys[Number(row.n) - 1], Number(row.v));
    this.loaded = true;
  }

  async _connect() {
    if (this.closed) return;
    const client = new pg.Client(this.clientConfig);
    this.client = client;
    client.on('notification', (msg) => { if (client === this.client) this._onNotification(msg); });
    client.on('error', (e) => this._lost(e, client));
    client.on('end', () => this._lost(new Error('listener connection ended'), client));
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel.replace(/"/g, '""')}"`);
      await client.query(`LISTEN "${`${this.channel}_heartbeat`.replace(/"/g, '""')}"`);
      this.stats.connects++;
      this.lastHeard = Date.now();
      await this._load(client); // after LISTEN: nothing said from here on is missed
      this.attempt = 0;
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => {
        if (client !== this.client || Date.now() - this.lastHeard < this.pingMs) return;
        client.query('SELECT 1').then(() => { this.lastHeard = Date.now(); }, (e) => this._lost(e, client));
      }, Math.max(100, Math.floor(this.pingMs / 2)));
      this.emit('healthy');
    } catch (e) {
      this._lost(e, client);
    }
  }

  _lost(error, client = this.client) {
    if (client !== this.client || !client) return;
    this.client = null;
    this.loaded = false;
    this.epoch++;
    clearInterval(this.pingTimer);
    client.removeAllListeners('end');
    client.on('error', () => {});
    client.end().catch(() => {});
    this.lastError = error && error.message;
    if (this.closed) return;
    const base = Math.min(this.reconnectMaxMs, this.reconnectMinMs * 2 ** Math.min(this.attempt++, 20));
    const delay = base / 2 + Math.random() * base / 2;
    this.retryTimer = setTimeout(() => this._connect(), delay);
    this.emit('unhealthy', error);
  }
}

module.exports = { VersionWatcher, ALL_TENANTS };
