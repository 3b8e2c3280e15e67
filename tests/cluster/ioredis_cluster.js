// ioredis's Cluster client, unmodified, against keyloop's cluster ports:
// writes, reads back and checks keys spread over every worker.
//   node ioredis_cluster.js NODE_MODULES PORT KEYS
const [modules, port, keys] = process.argv.slice(2);
const Redis = require(`${modules}/ioredis`);

async function main() {
  const cluster = new Redis.Cluster([{ host: '127.0.0.1', port: Number(port) }], { enableReadyCheck: false });
  for (let i = 0; i < Number(keys); i++) await cluster.set(`ioredis:${i}`, `value-${i}`);
  for (let i = 0; i < Number(keys); i++) {
    const got = await cluster.get(`ioredis:${i}`);
    if (got !== `value-${i}`) throw new Error(`ioredis:${i} is ${got}`);
  }
  await cluster.mset('{ioredis}a', '1', '{ioredis}b', '2');
  const both = await cluster.mget('{ioredis}a', '{ioredis}b');
  if (both.join(',') !== '1,2') throw new Error(`mget gave ${both}`);
  const counter = await cluster.incrby('ioredis:counter', 5);
  if (counter !== 5) throw new Error(`incrby gave ${counter}`);
  const nodes = cluster.nodes('master').length;
  await cluster.quit();
  console.log(`ioredis ok: ${nodes} masters`);
}
main().catch((e) => { console.error('ioredis failed:', e); process.exit(1); });
