// Client-side caching as an application gets it: node-redis 5's
// BasicClientSideCache over RESP3 (CLIENT TRACKING underneath), a reader
// and a writer on separate connections against a keyloop of several
// workers.
//   node tracking_client.js NODE_MODULES PORT
// Prints {"hits":N,"stale":[...],"misses":M}: the second round of reads
// must all be cache hits, and after the writer changed every key, no read
// may keep returning the old value (the invalidations came).
const [modules, port] = process.argv.slice(2);
const { createClient, BasicClientSideCache } = require(`${modules}/redis5`);

(async () => {
  const cache = new BasicClientSideCache({ ttl: 0, maxEntries: 0 });
  const socket = { host: '127.0.0.1', port: Number(port) };
  const reader = createClient({ socket, RESP: 3, clientSideCache: cache });
  const writer = createClient({ socket });
  await reader.connect();
  await writer.connect();
  const keys = Array.from({ length: 40 }, (_, i) => `csc:${i}`);
  for (const k of keys) await writer.set(k, 'v1');
  for (const k of keys) if ((await reader.get(k)) !== 'v1') throw new Error(`first read of ${k}`);
  const before = cache.stats();
  for (const k of keys) if ((await reader.get(k)) !== 'v1') throw new Error(`cached read of ${k}`);
  const hits = cache.stats().hitCount - before.hitCount;
  for (const k of keys) await writer.set(k, 'v2');
  // Invalidations arrive after the writer's replies: read until every key
  // is fresh, for at most 10 s.
  let stale = keys;
  const deadline = Date.now() + 10000;
  while (stale.length > 0 && Date.now() < deadline) {
    const next = [];
    for (const k of stale) if ((await reader.get(k)) !== 'v2') next.push(k);
    stale = next;
    if (stale.length > 0) await new Promise((r) => setTimeout(r, 20));
  }
  const misses = cache.stats().missCount - before.missCount;
  console.log(JSON.stringify({ hits, stale, misses }));
  await reader.quit();
  await writer.quit();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
