// Type declarations for @fraiseql/pg-cache-client.

/** What the watcher needs of a pg.Pool. */
export interface QueryablePool {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

/** A pg.Client configuration (host, port, user, database, password, ssl, ...). */
export type ConnectionConfig = { [option: string]: unknown };

export type Version = number;

/** The tenant of global domains; every bump of (t, d) also bumps (ALL_TENANTS, d). */
export const ALL_TENANTS: '00000000-0000-0000-0000-000000000000';

export interface VersionUpdate {
  /** "tenant|domain" as held (global domains under ALL_TENANTS). */
  key: string;
  tenant: string;
  domain: string;
  version: Version;
}

export interface WatcherOptions {
  /** For the dedicated listening pg.Client; {} (default) = the PG* environment. Must be a direct connection, not PgBouncer transaction pooling. */
  connection?: ConnectionConfig | string;
  /** For SQL reads (first reads, fallback, refresh); created from `connection` when absent. */
  pool?: QueryablePool;
  /** NOTIFY channel (fraiseql_cache.notify_channel). Default "cache_invalidation". */
  channel?: string;
  /** Expected heartbeat interval; null (default): the server's fraiseql_cache.heartbeat_ms when the channel is the server's; 0: expect none. */
  heartbeatMs?: number | null;
  /** Heartbeat intervals of silence after which the listener is not trusted (and, right after LISTEN, a pooler is assumed). Default 3. */
  silentHeartbeats?: number;
  /** Ping the listener after this much quiet. Default 2000. */
  pingMs?: number;
  /** Without heartbeats: trusted while something was heard within this. Default 6000. */
  livenessMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Reload every held pair this often (0 = never). Default 60000. */
  resyncMs?: number;
  /** A session that got no heartbeat is replaced after this. Default 60000. */
  pooledRetryMs?: number;
  /** Size of the pool created when `pool` is absent. Default 4. */
  poolSize?: number;
  logger?: { warn(line: string): void };
}

export interface WatcherHealth {
  healthy: boolean;
  connected: boolean;
  loaded: boolean;
  live: boolean;
  /** No heartbeat arrived within silentHeartbeats intervals of LISTEN: a pooler in transaction mode is assumed; reads go over SQL. */
  listenerPooled: boolean;
  expectHeartbeats: boolean;
  heartbeatMs: number | null;
  lastHeartbeatAgoMs: number | null;
  /** The floor of the last heartbeat. */
  floor: Version | null;
  listenerPid: number;
  heldPairs: number;
  epoch: number;
  /** The highest "lsn" heard in a notification. */
  lastLsn: string | null;
  lastError: string | null;
}

export interface WatcherCounters {
  notifications: number; payloadErrors: number; versionsRaised: number; heartbeats: number; pings: number;
  connects: number; disconnects: number; loads: number; localLookups: number; firstReads: number;
  sqlFallbacks: number; refreshes: number;
}

/** A Node EventEmitter ('update', 'healthy', 'unhealthy', 'pooled'). */
export class VersionWatcher {
  constructor(options?: WatcherOptions);
  /** Starts listening (in the background). Returns this. */
  start(): this;
  close(): Promise<void>;
  /** The versions of (tenant, d) for each d, in order: local when healthy, SQL otherwise. */
  versions(tenant: string, domains: string[]): Promise<Version[]>;
  /** Read-your-writes: call after your own COMMIT has returned. */
  refresh(tenant: string, domains: string[]): Promise<Version[]>;
  waitUntilHealthy(timeoutMs: number): Promise<boolean>;
  pairKey(tenant: string, domain: string): string;
  /** The "lsn" of the last notification that raised (tenant, domain). */
  lsn(tenant: string, domain: string): string | null;
  readonly healthy: boolean;
  readonly health: WatcherHealth;
  readonly listenerPid: number;
  readonly counters: WatcherCounters;
  on(event: 'update', listener: (u: VersionUpdate) => void): this;
  on(event: 'healthy' | 'pooled', listener: () => void): this;
  on(event: 'unhealthy', listener: (error: Error) => void): this;
  once(event: string, listener: (...args: any[]) => void): this;
  off(event: string, listener: (...args: any[]) => void): this;
  removeListener(event: string, listener: (...args: any[]) => void): this;
}

export interface StoredEntry {
  domains: string[];
  versions: Version[];
  value: string;
}

export interface CacheStore {
  get(key: string): Promise<StoredEntry | null>;
  put(key: string, entry: StoredEntry): Promise<void>;
  erase(key: string): Promise<void>;
}

export class LruStore implements CacheStore {
  constructor(maxEntries?: number);
  readonly size: number;
  get(key: string): Promise<StoredEntry | null>;
  put(key: string, entry: StoredEntry): Promise<void>;
  erase(key: string): Promise<void>;
  clear(): Promise<void>;
}

export interface RedisStoreOptions {
  /** A connected node-redis (npm `redis`) client. */
  client: { get(key: string): Promise<string | null>; set(key: string, value: string, options?: { EX?: number }): Promise<unknown>; del(key: string): Promise<unknown> };
  /** Default "fraiseql_cache:". */
  prefix?: string;
  /** Bounds memory only (0 = no expiry). Default 3600. */
  ttlSeconds?: number;
  ownsClient?: boolean;
}

export class RedisStore implements CacheStore {
  constructor(options: RedisStoreOptions);
  static connect(options?: { url?: string; prefix?: string; ttlSeconds?: number; connectTimeoutMs?: number }): Promise<RedisStore>;
  decodeErrors: number;
  get(key: string): Promise<StoredEntry | null>;
  put(key: string, entry: StoredEntry): Promise<void>;
  erase(key: string): Promise<void>;
  close(): Promise<void>;
}

export interface Codec<V> {
  encode(value: V): string;
  decode(stored: string): V;
}

export const codecs: { json: Codec<any>; string: Codec<string> };

export type CacheOutcome = 'hit' | 'miss' | 'uncached';

export interface CacheResult<V> {
  value: V;
  outcome: CacheOutcome;
  versions: Version[] | null;
  error?: unknown;
}

export interface CacheCounters {
  hits: number; misses: number; refusedStale: number; uncached: number; storeErrors: number;
}

export class VersionedCache<V = any> {
  constructor(watcher: VersionWatcher, store: CacheStore, options?: { name?: string; codec?: Codec<V> });
  readonly counters: CacheCounters;
  storeKey(tenant: string, key: string): string;
  /** Versions are read BEFORE compute runs; the value is stored tagged with them. */
  getOrCompute(key: string, tenant: string, domains: string[], compute: () => V | Promise<V>): Promise<V>;
  fetch(key: string, tenant: string, domains: string[], compute: () => V | Promise<V>): Promise<CacheResult<V>>;
  invalidate(key: string, tenant: string): Promise<void>;
}

export interface ParsedUpdate {
  tenant: string;
  domain: string;
  version: Version;
  domainFloor?: Version;
  lsn?: string;
}

export function parseNotification(payload: string): ParsedUpdate[];
export function parseHeartbeat(payload: string): Version | null;
export function encodeEntry(entry: StoredEntry): string;
export function decodeEntry(stored: string): StoredEntry | null;
export function normalizeTenant(tenant: string): string;
export function parseVersion(value: string | number | bigint): Version;
export function parseLsn(lsn: string): bigint | null;
