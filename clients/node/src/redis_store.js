'use strict';
// Entries in Redis, shared by every process using the same Redis and prefix
// (and with the C++ client's RedisStore: same entry format). The TTL only
// bounds memory: freshness comes from the versions.
//
//   const store = await RedisStore.connect({ url: 'redis://127.0.0.1:6379', prefix: 'app:' });
//   new RedisStore({ client })   // a connected node-redis (npm `redis`) client you own

const { encodeEntry, decodeEntry } = require('./entry_codec');

class RedisStore {
  constructor({ client, prefix = 'fraiseql_cache:', ttlSeconds = 3600, ownsClient = false } = {}) {
    if (!client || typeof client.get !== 'function' || typeof client.set !== 'function') {
      throw new TypeError('RedisStore needs a connected node-redis client ({ client })');
    }
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 0) throw new RangeError('ttlSeconds must be an integer >= 0');
    this.client = client;
    this.prefix = String(prefix);
    this.ttlSeconds = ttlSeconds;
    this.ownsClient = ownsClient;
    this.decodeErrors = 0;
  }

  // Connects a client of its own (closed by close()).
  static async connect({ url, prefix, ttlSeconds, connectTimeoutMs = 5000 } = {}) {
    const { createClient } = require('redis');
    const client = createClient({ url, socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: (n) => Math.min(50 * 2 ** n, 2000) } });
    client.on('error', () => {}); // failures surface as rejected commands
    await client.connect();
    return new RedisStore({ client, prefix, ttlSeconds, ownsClient: true });
  }

  async get(key) {
    const raw = await this.client.get(this.prefix + key);
    if (raw === null || raw === undefined) return null;
    const entry = decodeEntry(raw);
    if (!entry) this.decodeErrors++;
    return entry;
  }

  async put(key, entry) {
    const value = encodeEntry(entry);
    if (this.ttlSeconds > 0) await this.client.set(this.prefix + key, value, { EX: this.ttlSeconds });
    else await this.client.set(this.prefix + key, value);
  }

  async erase(key) {
    await this.client.del(this.prefix + key);
  }

  async close() {
    if (this.ownsClient) await this.client.quit().catch(() => {});
  }
}

module.exports = { RedisStore };
