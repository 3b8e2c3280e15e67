// A job queue the way Node.js applications run one on Redis, unmodified
// ioredis or node-redis against keyloop: workers wait in BRPOP while a
// producer LPUSHes (keys on every worker), and delayed jobs sit in a
// sorted set until ZRANGEBYSCORE finds them due.
//   node queue_client.js ioredis|redis NODE_MODULES PORT
// Prints "ok" when every job arrived exactly once, in order per queue.
const assert = require('assert');
const [which, modules, port] = process.argv.slice(2);

async function connect() {
  if (which === 'ioredis') {
    const Redis = require(`${modules}/ioredis`);
    const r = new Redis({ port: Number(port), enableReadyCheck: false });
    return {
      lpush: (k, v) => r.lpush(k, v), brpop: async (k, t) => r.brpop(k, t),
      zadd: (k, s, m) => r.zadd(k, s, m), due: (k, max) => r.zrangebyscore(k, '-inf', max),
      zrem: (k, m) => r.zrem(k, m), llen: (k) => r.llen(k), close: () => r.disconnect(),
    };
  }
  const { createClient } = require(`${modules}/redis`);
  const r = createClient({ socket: { port: Number(port) } });
  await r.connect();
  return {
    lpush: (k, v) => r.lPush(k, v),
    brpop: async (k, t) => { const x = await r.brPop(k, t); return x && [x.key, x.element]; },
    zadd: (k, s, m) => r.zAdd(k, { score: s, value: m }), due: (k, max) => r.zRangeByScore(k, '-inf', max),
    zrem: (k, m) => r.zRem(k, m), llen: (k) => r.lLen(k), close: () => r.quit(),
  };
}

async function main() {
  const producer = await connect();
  const queues = ['q:a', 'q:b', 'q:c', 'q:d'].map((q) => `${which}:${q}`);
  const workers = await Promise.all(queues.map(() => connect()));
  // The workers wait first: every job wakes one of them.
  const received = queues.map(() => []);
  const jobs = 20;
  const consumers = queues.map(async (q, i) => {
    for (let n = 0; n < jobs; ++n) {
      const got = await workers[i].brpop(q, 5);
      assert.ok(got, `${q}: job ${n} never came`);
      assert.strictEqual(got[0], q);
      received[i].push(got[1]);
    }
  });
  for (let n = 0; n < jobs; ++n) for (const q of queues) await producer.lpush(q, `${q}#${n}`);
  await Promise.all(consumers);
  queues.forEach((q, i) => assert.deepStrictEqual(received[i], [...Array(jobs).keys()].map((n) => `${q}#${n}`)));
  for (const q of queues) assert.strictEqual(await producer.llen(q), 0);
  // Delayed jobs: due ones come out in score order, once each.
  const delayed = `${which}:delayed`;
  for (let n = 0; n < 10; ++n) await producer.zadd(delayed, 1000 + n * 10, `job${n}`);
  const due = await producer.due(delayed, 1045);
  assert.deepStrictEqual(due, ['job0', 'job1', 'job2', 'job3', 'job4']);
  for (const j of due) assert.strictEqual(Number(await producer.zrem(delayed, j)), 1);
  assert.deepStrictEqual(await producer.due(delayed, 1045), []);
  await producer.close();
  for (const w of workers) await w.close();
  console.log('ok');
}

main().catch((e) => { console.error(e); process.exit(1); });
