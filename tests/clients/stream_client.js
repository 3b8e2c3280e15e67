// Consumer groups as Node.js services use them (BullMQ's workers do the
// same through scripts), unmodified ioredis or node-redis against keyloop:
// consumers block in XREADGROUP on streams of every worker while a producer
// XADDs, each job is acknowledged once, and what a consumer read but never
// acknowledged is taken over with XAUTOCLAIM.
//   node stream_client.js ioredis|redis NODE_MODULES PORT
// Prints "ok" when every job was processed exactly once and nothing is pending.
const assert = require('assert');
const [which, modules, port] = process.argv.slice(2);

async function connect() {
  if (which === 'ioredis') {
    const Redis = require(`${modules}/ioredis`);
    const r = new Redis({ port: Number(port), enableReadyCheck: false });
    return { call: (...a) => r.call(...a), close: () => r.disconnect() };
  }
  const { createClient } = require(`${modules}/redis`);
  const r = createClient({ socket: { port: Number(port) } });
  await r.connect();
  return { call: (...a) => r.sendCommand(a.map(String)), close: () => r.quit() };
}

const streams = ['js:s:a', 'js:s:b', 'js:s:c'];
const jobs = 60;

async function main() {
  const r = await connect();
  for (const s of streams) {
    await r.call('DEL', s);
    await r.call('XGROUP', 'CREATE', s, 'workers', '$', 'MKSTREAM');
  }
  const processed = new Map();
  let producing = true;
  const consumer = async (name) => {
    const c = await connect();
    for (;;) {
      const got = await c.call('XREADGROUP', 'GROUP', 'workers', name, 'COUNT', '4', 'BLOCK', '300', 'STREAMS',
        ...streams, ...streams.map(() => '>'));
      if (!got) {
        if (!producing) break;
        continue;
      }
      for (const [stream, entries] of got) {
        for (const [id, fields] of entries) {
          const key = `${stream}/${fields[1]}`;
          processed.set(key, (processed.get(key) || 0) + 1);
          await c.call('XACK', stream, 'workers', id);
        }
      }
    }
    await c.close();
  };
  const produce = async (n) => {
    for (const s of streams) await r.call('XADD', s, '*', 'job', String(n));
  };
  await produce(0);
  await produce(1);
  // One that reads the first two jobs and never acknowledges them.
  const lazy = await connect();
  await lazy.call('XREADGROUP', 'GROUP', 'workers', 'lazy', 'COUNT', '2', 'STREAMS', streams[0], '>');
  const consumers = [consumer('a'), consumer('b')];
  for (let n = 2; n < jobs; ++n) await produce(n);
  for (const s of streams) {
    for (let i = 0; i < 500; ++i) {
      const groups = await r.call('XINFO', 'GROUPS', s);
      if (Number(groups[0][groups[0].indexOf('lag') + 1]) === 0) break;
      await new Promise((ok) => setTimeout(ok, 10));
    }
  }
  producing = false;
  await Promise.all(consumers);
  const [next, claimed, deleted] = await r.call('XAUTOCLAIM', streams[0], 'workers', 'janitor', '0', '0-0');
  assert.strictEqual(next, '0-0');
  assert.deepStrictEqual(deleted, []);
  assert.strictEqual(claimed.length, 2);
  for (const [id, fields] of claimed) {
    const key = `${streams[0]}/${fields[1]}`;
    processed.set(key, (processed.get(key) || 0) + 1);
    await r.call('XACK', streams[0], 'workers', id);
  }
  for (const s of streams) {
    assert.strictEqual(Number((await r.call('XPENDING', s, 'workers'))[0]), 0);
    for (let n = 0; n < jobs; ++n) assert.strictEqual(processed.get(`${s}/${n}`), 1, `${s}/${n}`);
  }
  await lazy.close();
  await r.close();
  console.log('ok');
}

main().catch((e) => { console.error(e); process.exit(1); });
