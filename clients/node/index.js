'use strict';
const { VersionWatcher } = require('./src/version_watcher');
const { VersionedCache, codecs } = require('./src/versioned_cache');
const { LruStore } = require('./src/lru_store');
const { RedisStore } = require('./src/redis_store');
const { encodeEntry, decodeEntry } = require('./src/entry_codec');
const { parseNotification, parseHeartbeat } = require('./src/notification');
const { ALL_TENANTS, normalizeTenant, parseVersion, parseLsn } = require('./src/types');

module.exports = {
  VersionWatcher, VersionedCache, codecs, LruStore, RedisStore,
  encodeEntry, decodeEntry, parseNotification, parseHeartbeat,
  ALL_TENANTS, normalizeTenant, parseVersion, parseLsn,
};
