// Compiled with `tsc --noEmit` by test/types.test.js: the declarations describe the API.
import { VersionWatcher, VersionedCache, LruStore, RedisStore, codecs, ALL_TENANTS, Version } from '../../index';

async function usage(): Promise<string> {
  const watcher = new VersionWatcher({ channel: 'cache_invalidation', heartbeatMs: null }).start();
  const cache = new VersionedCache<string>(watcher, new LruStore(100), { name: 'contracts', codec: codecs.string });
  const v: Version[] = await watcher.versions(ALL_TENANTS, ['contract']);
  let last = '';
  watcher.on('update', (u) => { last = `${u.key} ${u.version + v[0]}`; });
  const pooled: boolean = watcher.health.listenerPooled;
  const r = await cache.fetch('list', ALL_TENANTS, ['contract'], async () => `json ${pooled} ${last}`);
  const redis: RedisStore = await RedisStore.connect({ url: 'redis://127.0.0.1:6379' });
  await redis.close();
  await watcher.refresh(ALL_TENANTS, ['contract']);
  await watcher.close();
  return r.outcome === 'hit' ? r.value : await cache.getOrCompute('k', ALL_TENANTS, ['contract'], () => 'x');
}

// @ts-expect-error versions() takes an array of domains
new VersionWatcher().versions(ALL_TENANTS, 'contract');

export { usage };
