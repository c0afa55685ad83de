'use strict';
// A stored entry as one string, the same format as the C++ client's
// (RedisStore entries can be shared between both):
//   "FCE1 " <n> "\n" then per domain: <version> " " <byte length> " " <domain> "\n", then the value.

const MAGIC = 'FCE1 ';

function encodeEntry({ domains, versions, value }) {
  if (typeof value !== 'string') throw new TypeError('an entry value must be a string (encode it first)');
  let out = `${MAGIC}${domains.length}\n`;
  domains.forEach((d, i) => {
    out += `${versions[i]} ${Buffer.byteLength(d)} ${d}\n`;
  });
  return out + value;
}

// The entry, or null when `s` is not one.
function decodeEntry(s) {
  if (typeof s !== 'string' || !s.startsWith(MAGIC)) return null;
  const buf = Buffer.from(s, 'utf8');
  let pos = MAGIC.length;
  const readNumber = (stop) => {
    const start = pos;
    while (pos < buf.length && buf[pos] >= 0x30 && buf[pos] <= 0x39 && pos - start < 17) pos++;
    if (pos === start || pos >= buf.length || buf[pos] !== stop) return null;
    const n = Number(buf.toString('latin1', start, pos));
    pos++;
    return Number.isSafeInteger(n) ? n : null;
  };
  const n = readNumber(0x0a);
  if (n === null || n > buf.length) return null;
  const domains = [];
  const versions = [];
  for (let i = 0; i < n; i++) {
    const version = readNumber(0x20);
    if (version === null) return null;
    const len = readNumber(0x20);
    if (len === null || pos + len >= buf.length || buf[pos + len] !== 0x0a) return null;
    domains.push(buf.toString('utf8', pos, pos + len));
    versions.push(version);
    pos += len + 1;
  }
  return { domains, versions, value: buf.toString('utf8', pos) };
}

module.exports = { encodeEntry, decodeEntry };
