'use strict';
// The current pg_fraiseql_cache versions of this process, kept locally.
//
// One dedicated pg.Client (never a pool) LISTENs on the worker's channel and
// its heartbeat channel. On every (re)connect it first LISTENs, then reloads
// every held pair (current_versions() per tenant), then applies
// notifications, keeping the maximum of what it holds and hears (versions are
// absolute and never decrease, so this is idempotent and order-free).
// versions() is answered locally while the state is trusted, and over SQL
// (through a pg.Pool) otherwise. A pair asked for the first time is read once
// over SQL and held from then on, if the listener stayed trusted during the
// read (epoch check).
//
// Trusted = loaded after LISTEN on the current session, and live: with the
// worker's heartbeat expected (same channel as the server's, heartbeat_ms >
// 0), a heartbeat within `silentHeartbeats` intervals; otherwise anything
// heard (notification, ping) within livenessMs. No heartbeat at all within
// that window after LISTEN means a pooler in transaction mode is in the way
// (the listener receives nothing): logged once, health.listenerPooled = true,
// SQL answers, and the session is replaced every pooledRetryMs.

const { EventEmitter } = require('events');
const pg = require('pg');
const { WatcherState } = require('./watcher_state');
const { Backoff } = require('./backoff');
const { parseNotification, parseHeartbeat } = require('./notification');
const { ALL_TENANTS, normalizeTenant, checkDomains, pairKey } = require('./types');
const sql = require('./sql');

const DEFAULTS = {
  channel: 'cache_invalidation',
  heartbeatMs: null, // null: as the server says (fraiseql_cache.heartbeat_ms); 0: expect none
  silentHeartbeats: 3,
  pingMs: 2000,
  livenessMs: 6000,
  reconnectMinMs: 100,
  reconnectMaxMs: 5000,
  resyncMs: 60000,
  pooledRetryMs: 60000,
  poolSize: 4,
};

const now = () => Date.now();

class VersionWatcher extends EventEmitter {
  // options: connection (pg.Client config or connection string; {} = the PG* environment),
  // pool (a pg.Pool for SQL reads; created from `connection` when absent), channel,
  // heartbeatMs, silentHeartbeats, pingMs, livenessMs, reconnectMinMs, reconnectMaxMs,
  // resyncMs, pooledRetryMs, poolSize, logger ({ warn(line) }).
  constructor(options = {}) {
    super();
    const o = { ...DEFAULTS, ...options };
    if (typeof o.channel !== 'string' || o.channel.length === 0 || Buffer.byteLength(o.channel) > 63 - 10) {
      throw new TypeError('channel must be a non-empty name of at most 53 bytes');
    }
    for (const k of ['silentHeartbeats', 'pingMs', 'livenessMs', 'reconnectMinMs', 'reconnectMaxMs', 'pooledRetryMs']) {
      if (!(Number(o[k]) > 0)) throw new RangeError(`${k} must be a positive number`);
    }
    if (o.heartbeatMs !== null && !(Number(o.heartbeatMs) >= 0)) throw new RangeError('heartbeatMs must be null or >= 0');
    this.options = o;
    this.connection = o.connection || {};
    this.ownsPool = !o.pool;
    this.pool = o.pool || new pg.Pool({ ...(typeof this.connection === 'string'
      ? { connectionString: this.connection } : this.connection), max: o.poolSize });
    if (this.ownsPool) this.pool.on('error', () => {}); // idle clients: errors surface on query
    this.logger = o.logger || console;
    this.state = new WatcherState();
    this.backoff = new Backoff(o.reconnectMinMs, o.reconnectMaxMs);
    this.client = null;
    this.session = null;
    this.closed = false;
    this.started = false;
    this.lastError = null;
    this.floor = null;
    this.pooledLogged = false;
    this.everPooled = false;
    this.listenerPooled = false;
    this.counters = { notifications: 0, payloadErrors: 0, versionsRaised: 0, heartbeats: 0, pings: 0,
      connects: 0, disconnects: 0, loads: 0, localLookups: 0, firstReads: 0, sqlFallbacks: 0, refreshes: 0 };
  }

  start() {
    if (this.closed) throw new Error('the watcher is closed');
    if (!this.started) {
      this.started = true;
      this._connect();
    }
    return this;
  }

  async close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this._dropSession();
    if (client) await client.end().catch(() => {});
    if (this.ownsPool) await this.pool.end().catch(() => {});
  }

  // Trusted right now: local answers are as fresh as the notification delay.
  get healthy() {
    return this._trusted();
  }

  get listenerPid() {
    return this.client && this.client.processID ? this.client.processID : 0;
  }

  get health() {
    const s = this.session;
    return {
      healthy: this._trusted(),
      connected: Boolean(s && s.listening),
      loaded: this.state.healthy,
      live: this._live(),
      listenerPooled: this.listenerPooled,
      expectHeartbeats: Boolean(s && s.expectHeartbeats),
      heartbeatMs: s ? s.heartbeatMs : null,
      lastHeartbeatAgoMs: s && s.lastHeartbeat ? now() - s.lastHeartbeat : null,
      floor: this.floor,
      listenerPid: this.listenerPid,
      heldPairs: this.state.size,
      epoch: this.state.epoch,
      lastLsn: this.state.lastLsn,
      lastError: this.lastError,
    };
  }

  // The key (tenant, domain) is held under (global domains: the all-tenants id).
  pairKey(tenant, domain) {
    return this.state.effectiveKey(normalizeTenant(tenant), domain);
  }

  // The "lsn" of the last notification that raised (tenant, domain), or null.
  lsn(tenant, domain) {
    return this.state.lsns.get(this.pairKey(tenant, domain)) || null;
  }

  waitUntilHealthy(timeoutMs) {
    const deadline = now() + timeoutMs;
    return new Promise((resolve) => {
      const poll = () => {
        if (this._trusted()) return resolve(true);
        if (now() >= deadline || this.closed) return resolve(false);
        setTimeout(poll, 10);
      };
      poll();
    });
  }

  // The versions of (tenant, d) for each d: the first step of the cache protocol.
  async versions(tenantIn, domains) {
    const tenant = normalizeTenant(tenantIn);
    checkDomains(domains);
    if (domains.length === 0) return [];
    const found = this.state.lookup(tenant, domains, this._trustedSession());
    if (found.outcome === 'local') {
      this.counters.localLookups++;
      return found.versions;
    }
    if (found.outcome === 'unhealthy') {
      this.counters.sqlFallbacks++;
      return sql.queryCurrentVersions(this.pool, tenant, domains);
    }
    this.counters.firstReads++;
    return this._readAndApply(tenant, domains, found.epoch);
  }

  // Read-your-writes: after your own COMMIT has returned, read and hold the new versions.
  async refresh(tenantIn, domains) {
    const tenant = normalizeTenant(tenantIn);
    checkDomains(domains);
    this.counters.refreshes++;
    if (domains.length === 0) return [];
    return this._readAndApply(tenant, domains, this.state.epoch);
  }

  async _readAndApply(tenant, domains, epoch) {
    const reads = await sql.queryDomains(this.pool, tenant, domains);
    const { raised, merged } = this.state.applyRead(tenant, domains, reads, epoch, this._trustedSession());
    this._publish(raised);
    return merged;
  }

  // ---- trust ---------------------------------------------------------------

  _live() {
    const s = this.session;
    if (!s || !s.listening) return false;
    if (s.expectHeartbeats) return now() - s.lastHeartbeat < s.silentMs;
    return now() - s.lastHeard < this.options.livenessMs;
  }

  // The session may be trusted (the state's own `healthy` is checked by lookup/applyRead).
  _trustedSession() {
    return this._live() && !this.session.pooled;
  }

  _trusted() {
    return this.state.healthy && this._trustedSession();
  }

  _publish(raised) {
    if (raised.length === 0) return;
    this.counters.versionsRaised += raised.length;
    for (const u of raised) {
      try {
        this.emit('update', u);
      } catch (e) {
        // an application listener must not stop the watcher
      }
    }
  }

  // ---- the listening session ------------------------------------------------

  async _connect() {
    if (this.closed) return;
    const client = new pg.Client(this.connection);
    const session = { client, listening: false, pooled: false, expectHeartbeats: false, heartbeatMs: null,
      silentMs: this.options.livenessMs, lastHeard: 0, lastHeartbeat: 0, heartbeats: 0, listenedAt: 0,
      nextResync: 0, loading: false, reloadPending: false, timer: null };
    this.client = client;
    this.session = session;
    client.on('notification', (msg) => { if (client === this.client) this._onNotification(msg); });
    client.on('error', (e) => this._lost(e, client));
    client.on('end', () => this._lost(new Error('listener connection ended'), client));
    try {
      await client.connect();
      await client.query(`LISTEN ${sql.quoteIdent(this.options.channel)}`);
      await client.query(`LISTEN ${sql.quoteIdent(`${this.options.channel}_heartbeat`)}`);
      const server = await sql.queryServerSettings(client);
      if (client !== this.client) return;
      this._configureHeartbeats(session, server);
      this.counters.connects++;
      session.listening = true;
      session.listenedAt = session.lastHeard = now();
      // After a pooled session, a new one is trusted only once a heartbeat arrived.
      if (!this.everPooled) session.lastHeartbeat = session.listenedAt;
      session.timer = setInterval(() => this._tick(session), Math.max(20, Math.min(250, session.silentMs / 4)));
      if (session.timer.unref) session.timer.unref();
      await this._reload(session, false); // after LISTEN: nothing said from here on is missed
    } catch (e) {
      this._lost(e, client);
    }
  }

  _configureHeartbeats(session, server) {
    const o = this.options;
    const hb = o.heartbeatMs !== null ? Number(o.heartbeatMs)
      : (server.channel === o.channel && server.heartbeatMs > 0 ? server.heartbeatMs : 0);
    session.heartbeatMs = hb;
    session.expectHeartbeats = hb > 0;
    session.silentMs = hb > 0 ? hb * o.silentHeartbeats : o.livenessMs;
  }

  // Reloads every held pair on the session. distrust: answer over SQL until it is done.
  async _reload(session, distrust) {
    if (distrust) this.state.markUnhealthy();
    if (session.loading) {
      session.reloadPending = true;
      return;
    }
    session.loading = true;
    try {
      do {
        session.reloadPending = false;
        const pairs = this.state.heldPairs();
        const epoch = this.state.epoch;
        const r = await sql.queryLoad(session.client, pairs);
        if (session !== this.session) return;
        this.counters.loads++;
        session.lastHeard = now();
        session.nextResync = now() + this.options.resyncMs;
        // Healthy only if nothing asked for distrust while the load ran.
        const wasHealthy = this._trusted();
        this._publish(this.state.applyLoad(pairs, r.versions, r.globals, epoch === this.state.epoch));
        if (!wasHealthy && this._trusted()) this.backoff.reset();
        if (!wasHealthy && this._trusted()) this.emit('healthy');
      } while (session.reloadPending);
    } catch (e) {
      this._lost(e, session.client);
    } finally {
      session.loading = false;
    }
  }

  _onNotification(msg) {
    const s = this.session;
    const t = now();
    s.lastHeard = t;
    if (msg.channel === `${this.options.channel}_heartbeat`) {
      this.counters.heartbeats++;
      const gap = t - s.lastHeartbeat;
      s.lastHeartbeat = t;
      s.heartbeats++;
      if (this.listenerPooled && !s.pooled) this.listenerPooled = false;
      const floor = parseHeartbeat(msg.payload);
      const floorMoved = floor !== null && this.floor !== null && floor !== this.floor;
      if (floor !== null) this.floor = floor;
      // Silent for too long (a stall, or a pooler): what was said meanwhile may be lost.
      // The floor moved (a reset, a crash): every version moved without a notification.
      if (!s.pooled && (floorMoved || (s.expectHeartbeats && gap >= s.silentMs))) this._reload(s, true);
      return;
    }
    this.counters.notifications++;
    let updates;
    try {
      updates = parseNotification(msg.payload);
    } catch (e) {
      // Something we cannot read: reload everything rather than guess.
      this.counters.payloadErrors++;
      this.lastError = `unreadable notification: ${e.message}`;
      this._reload(s, true);
      return;
    }
    this._publish(this.state.applyHeard(updates));
  }

  _tick(session) {
    if (session !== this.session || !session.listening) return;
    const t = now();
    if (session.expectHeartbeats && !session.pooled && session.heartbeats === 0 &&
        t - session.listenedAt >= session.silentMs) {
      this._pooled(session);
      return;
    }
    if (session.pooled && t - session.pooledAt >= this.options.pooledRetryMs) {
      this._lost(new Error('replacing a listener session that received no heartbeat'), session.client);
      return;
    }
    if (t - session.lastHeard >= this.options.pingMs && !session.pinging) {
      session.pinging = true;
      this.counters.pings++;
      session.client.query('SELECT 1').then(() => {
        session.pinging = false;
        if (session === this.session) session.lastHeard = now();
      }, (e) => this._lost(e, session.client));
    }
    if (this.options.resyncMs > 0 && session.nextResync && t >= session.nextResync && !session.loading) {
      this._reload(session, false);
    }
  }

  _pooled(session) {
    session.pooled = true;
    session.pooledAt = now();
    this.everPooled = true;
    this.listenerPooled = true;
    this.state.markUnhealthy();
    if (!this.pooledLogged) {
      this.pooledLogged = true;
      this.logger.warn(`pg-cache-client: no heartbeat on "${this.options.channel}_heartbeat" within ` +
        `${session.silentMs} ms of LISTEN: the listener is probably behind a connection pooler in transaction ` +
        'mode (PgBouncer) and receives no notifications; versions are read over SQL. Give the watcher a direct connection.');
    }
    this.emit('pooled');
  }

  _dropSession() {
    if (this.session) clearInterval(this.session.timer);
    this.session = null;
    this.client = null;
  }

  _lost(error, client) {
    if (!client || client !== this.client) return;
    const wasTrusted = this._trusted();
    this._dropSession();
    this.state.markUnhealthy();
    client.removeAllListeners('end');
    client.removeAllListeners('notification');
    client.on('error', () => {});
    client.end().catch(() => {});
    this.lastError = error && error.message ? error.message : String(error);
    if (this.closed) return;
    this.counters.disconnects++;
    this.retryTimer = setTimeout(() => this._connect(), this.backoff.next());
    if (wasTrusted) this.emit('unhealthy', error);
  }
}

module.exports = { VersionWatcher, ALL_TENANTS, pairKey };
