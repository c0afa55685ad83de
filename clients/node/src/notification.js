'use strict';
// Payloads of the invalidation and heartbeat channels.
//
//   {"tenant_id": "<uuid>", "domain": "contract", "version": 43}
//   [ {...}, {...} ]                        (notify_format = array)
// Optional keys: "domain_floor": N (on the all-tenants pair: every tenant of
// the domain is now at >= N) and "lsn": "X/Y" (the WAL position after which a
// replica shows the data). Other keys are ignored.

const { normalizeTenant, parseVersion, parseLsn } = require('./types');

// A JSON number that is a version (text is not: the server sends numbers).
function jsonVersion(value, key) {
  if (typeof value !== 'number') throw new Error(`"${key}" must be a number`);
  return parseVersion(value);
}

function readUpdate(o) {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new Error('an update must be an object');
  if (typeof o.domain !== 'string' || o.domain.length === 0) throw new Error('"domain" must be a non-empty string');
  const u = { tenant: normalizeTenant(o.tenant_id), domain: o.domain, version: jsonVersion(o.version, 'version') };
  if (o.domain_floor !== undefined) u.domainFloor = jsonVersion(o.domain_floor, 'domain_floor');
  if (o.lsn !== undefined) {
    if (parseLsn(o.lsn) === null) throw new Error(`"lsn" must look like "X/Y", got ${JSON.stringify(o.lsn)}`);
    u.lsn = o.lsn;
  }
  return u;
}

// The updates of one payload; throws (with the reason) on anything unreadable.
function parseNotification(payload) {
  let parsed;
  try {
    parsed = JSON.parse(payload);
  } catch (e) {
    throw new Error(`payload is not JSON: ${e.message}`);
  }
  return Array.isArray(parsed) ? parsed.map(readUpdate) : [readUpdate(parsed)];
}

// The "floor" of a heartbeat {"at": ..., "published": N, "floor": N}; null when absent or unreadable.
function parseHeartbeat(payload) {
  try {
    const o = JSON.parse(payload);
    if (o && typeof o === 'object' && o.floor !== undefined) return parseVersion(o.floor);
  } catch (e) {
    // a heartbeat we cannot read still counts as liveness
  }
  return null;
}

module.exports = { parseNotification, parseHeartbeat };
