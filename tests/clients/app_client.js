// What Node.js applications do with transactions, scripts and pub/sub,
// unmodified ioredis or node-redis against keyloop (keys on every worker):
// multi() across keys, pipeline(), a WATCH retry loop from several
// connections, a rate limiter in Lua (eval, and ioredis's defineCommand,
// which uses EVALSHA), and subscribe/publish between connections.
//   node app_client.js ioredis|redis NODE_MODULES PORT
// Prints "ok" when every check held.
const assert = require('assert');
const [which, modules, port] = process.argv.slice(2);
const p = (k) => `${which}:${k}`;

const limiter = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

async function viaIoredis() {
  const Redis = require(`${modules}/ioredis`);
  const r = new Redis({ port: Number(port), enableReadyCheck: false });
  const results = await r.multi().set(p('a'), 1).incr(p('a')).set(p('b'), 'x').get(p('b')).mget(p('a'), p('b')).exec();
  assert.deepStrictEqual(results, [[null, 'OK'], [null, 2], [null, 'OK'], [null, 'x'], [null, ['2', 'x']]]);
  const piped = await r.pipeline().incr(p('c')).incr(p('c')).get(p('c')).exec();
  assert.deepStrictEqual(piped.map((x) => x[1]), [1, 2, '2']);
  // WATCH from four connections: no increment is lost.
  const counters = await Promise.all([0, 1, 2, 3].map(async () => {
    const c = new Redis({ port: Number(port), enableReadyCheck: false });
    for (let done = 0; done < 25;) {
      await c.watch(p('counter'));
      const v = Number(await c.get(p('counter')) || 0);
      const res = await c.multi().set(p('counter'), v + 1).set(p('mirror'), v + 1).exec();
      if (res !== null) done++;
    }
    c.disconnect();
  }));
  assert.strictEqual(counters.length, 4);
  assert.strictEqual(await r.get(p('counter')), '100');
  assert.strictEqual(await r.get(p('mirror')), '100');
  // Lua: eval, and defineCommand (EVALSHA first, EVAL when NOSCRIPT).
  assert.strictEqual(await r.eval(limiter, 1, p('rl'), 10000), 1);
  r.defineCommand('ratelimit', { numberOfKeys: 1, lua: limiter });
  assert.strictEqual(await r.ratelimit(p('rl'), 10000), 2);
  assert.strictEqual(await r.ratelimit(p('rl2'), 10000), 1);
  // Pub/sub between connections.
  const sub = new Redis({ port: Number(port), enableReadyCheck: false });
  const got = [];
  const all = new Promise((resolve) => sub.on('message', (ch, msg) => { got.push(msg); if (got.length === 10) resolve(); }));
  await sub.subscribe(p('news'));
  for (let i = 0; i < 10; ++i) assert.strictEqual(await r.publish(p('news'), `m${i}`), 1);
  await all;
  assert.deepStrictEqual(got, [...Array(10).keys()].map((i) => `m${i}`));
  sub.disconnect();
  r.disconnect();
}

async function viaNodeRedis() {
  const { createClient } = require(`${modules}/redis`);
  const r = createClient({ socket: { port: Number(port) } });
  await r.connect();
  const results = await r.multi().set(p('a'), '1').incr(p('a')).set(p('b'), 'x').get(p('b')).mGet([p('a'), p('b')]).exec();
  assert.deepStrictEqual(results, ['OK', 2, 'OK', 'x', ['2', 'x']]);
  const piped = await r.multi().incr(p('c')).incr(p('c')).get(p('c')).execAsPipeline();
  assert.deepStrictEqual(piped, [1, 2, '2']);
  for (let worker = 0; worker < 4; ++worker) {
    const c = r.duplicate();
    await c.connect();
    for (let done = 0; done < 25;) {
      await c.watch(p('counter'));
      const v = Number(await c.get(p('counter')) || 0);
      try {
        await c.multi().set(p('counter'), String(v + 1)).set(p('mirror'), String(v + 1)).exec();
        done++;
      } catch (e) {
        if (!String(e.name).includes('Watch')) throw e;
      }
    }
    await c.quit();
  }
  assert.strictEqual(await r.get(p('counter')), '100');
  assert.strictEqual(await r.eval(limiter, { keys: [p('rl')], arguments: ['10000'] }), 1);
  assert.strictEqual(await r.eval(limiter, { keys: [p('rl')], arguments: ['10000'] }), 2);
  const sha = await r.scriptLoad(limiter);
  assert.strictEqual(await r.evalSha(sha, { keys: [p('rl3')], arguments: ['10000'] }), 1);
  const sub = r.duplicate();
  await sub.connect();
  const got = [];
  let resolve;
  const all = new Promise((res) => { resolve = res; });
  await sub.subscribe(p('news'), (msg) => { got.push(msg); if (got.length === 10) resolve(); });
  for (let i = 0; i < 10; ++i) assert.strictEqual(await r.publish(p('news'), `m${i}`), 1);
  await all;
  assert.deepStrictEqual(got, [...Array(10).keys()].map((i) => `m${i}`));
  await sub.quit();
  await r.quit();
}

(which === 'ioredis' ? viaIoredis() : viaNodeRedis())
  .then(() => { console.log('ok'); process.exit(0); })
  .catch((e) => { console.error(e); process.exit(1); });
