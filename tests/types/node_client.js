// A Node.js client, unmodified, using hashes and sets on keyloop.
//   node node_client.js ioredis|redis NODE_MODULES PORT
// Prints "ok" when every reply was what Redis would give.
const assert = require('assert');
const [which, modules, port] = process.argv.slice(2);

async function check(client, prefix) {
  await client.hSet(`${prefix}:h`, { a: '1', b: '2' });
  // node-redis hands back an object without a prototype: compare entries.
  assert.deepStrictEqual(Object.entries(await client.hGetAll(`${prefix}:h`)).sort(), [['a', '1'], ['b', '2']]);
  assert.strictEqual(await client.hIncrBy(`${prefix}:h`, 'a', 5), 6);
  await client.sAdd(`${prefix}:s`, ['x', 'y', 'z']);
  assert.deepStrictEqual((await client.sMembers(`${prefix}:s`)).sort(), ['x', 'y', 'z']);
  assert.strictEqual(await client.sIsMember(`${prefix}:s`, 'y'), true);
  assert.deepStrictEqual((await client.sUnion([`${prefix}:s`, `${prefix}:t`])).sort(), ['x', 'y', 'z']);
}

async function main() {
  if (which === 'ioredis') {
    const Redis = require(`${modules}/ioredis`);
    const r = new Redis({ port: Number(port), enableReadyCheck: false });
    // ioredis names commands as Redis does; wrap them in node-redis's names.
    await check({
      hSet: (k, o) => r.hset(k, o), hGetAll: (k) => r.hgetall(k), hIncrBy: (k, f, n) => r.hincrby(k, f, n),
      sAdd: (k, m) => r.sadd(k, ...m), sMembers: (k) => r.smembers(k),
      sIsMember: async (k, m) => (await r.sismember(k, m)) === 1, sUnion: (ks) => r.sunion(...ks),
    }, 'ioredis');
    r.disconnect();
  } else {
    const { createClient } = require(`${modules}/redis`);
    const r = createClient({ socket: { port: Number(port) } });
    await r.connect();
    await check(r, 'node-redis');
    await r.quit();
  }
  console.log('ok');
}

main().catch((e) => { console.error(e); process.exit(1); });
