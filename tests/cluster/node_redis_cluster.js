// node-redis's createCluster, unmodified, against keyloop's cluster ports.
//   node node_redis_cluster.js NODE_MODULES PORT KEYS
const [modules, port, keys] = process.argv.slice(2);
const { createCluster } = require(`${modules}/redis`);

async function main() {
  const cluster = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${port}` }] });
  cluster.on('error', (e) => { console.error('node-redis error:', e); process.exit(1); });
  await cluster.connect();
  for (let i = 0; i < Number(keys); i++) await cluster.set(`node-redis:${i}`, `value-${i}`);
  for (let i = 0; i < Number(keys); i++) {
    const got = await cluster.get(`node-redis:${i}`);
    if (got !== `value-${i}`) throw new Error(`node-redis:${i} is ${got}`);
  }
  await cluster.mSet([['{node-redis}a', '1'], ['{node-redis}b', '2']]);
  const both = await cluster.mGet(['{node-redis}a', '{node-redis}b']);
  if (both.join(',') !== '1,2') throw new Error(`mGet gave ${both}`);
  await cluster.quit();
  console.log('node-redis ok');
}
main().catch((e) => { console.error('node-redis failed:', e); process.exit(1); });
