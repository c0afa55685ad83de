'use strict';
// Tenants, domains and versions: validation shared by every part.

const ALL_TENANTS = '00000000-0000-0000-0000-000000000000';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// The canonical (lower-case) form of a tenant uuid; throws on anything else.
function normalizeTenant(tenant) {
  const t = typeof tenant === 'string' ? tenant.trim().toLowerCase() : '';
  if (!UUID.test(t)) throw new TypeError(`tenant must be a uuid, got ${JSON.stringify(tenant)}`);
  return t;
}

// An array of non-empty domain names; throws on anything else.
function checkDomains(domains) {
  if (!Array.isArray(domains)) throw new TypeError('domains must be an array of strings');
  for (const d of domains) {
    if (typeof d !== 'string' || d.length === 0) {
      throw new TypeError(`every domain must be a non-empty string, got ${JSON.stringify(d)}`);
    }
  }
  return domains;
}

// A bigint as the server sends it (text, or a number from JSON) -> a safe
// integer. Versions stay below 2^53; anything else is refused, never rounded.
function parseVersion(value) {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
  } else if (typeof value === 'string' && /^[0-9]{1,16}$/.test(value)) {
    const n = Number(value);
    if (Number.isSafeInteger(n)) return n;
  } else if (typeof value === 'bigint' && value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return Number(value);
  }
  throw new RangeError(`not a version (a non-negative integer below 2^53): ${String(value)}`);
}

// "X/Y" (hex halves) -> a BigInt, for comparing WAL positions; null if malformed.
function parseLsn(lsn) {
  if (typeof lsn !== 'string') return null;
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) return null;
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

const pairKey = (tenant, domain) => `${tenant}|${domain}`;
function splitKey(key) {
  const bar = key.indexOf('|');
  return { tenant: key.slice(0, bar), domain: key.slice(bar + 1) };
}

module.exports = { ALL_TENANTS, normalizeTenant, checkDomains, parseVersion, parseLsn, pairKey, splitKey };
