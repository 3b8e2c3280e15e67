// ioredis's Cluster client, unmodified, against keyloop's cluster ports.
//   node ioredis_cluster.js NODE_MODULES PORT KEYS
//       writes, reads back and checks keys spread over every worker.
//   node ioredis_cluster.js NODE_MODULES PORT KEYS DIR
//       the same, then touches DIR/ready and keeps reading and writing,
//       every reply checked, until DIR/stop appears (the test reloads
//       keyloop meanwhile); then checks every key once more.
const fs = require('fs');
const path = require('path');
const [modules, port, keyCount, folder] = process.argv.slice(2);
const Redis = require(`${modules}/ioredis`);
const keys = Number(keyCount);

async function main() {
  const cluster = new Redis.Cluster([{ host: '127.0.0.1', port: Number(port) }], { enableReadyCheck: false });
  for (let i = 0; i < keys; i++) await cluster.set(`ioredis:${i}`, `value-${i}`);
  const checkAll = async () => {
    for (let i = 0; i < keys; i++) {
      const got = await cluster.get(`ioredis:${i}`);
      if (got !== `value-${i}`) throw new Error(`ioredis:${i} is ${got}`);
    }
  };
  await checkAll();
  await cluster.mset('{ioredis}a', '1', '{ioredis}b', '2');
  const both = await cluster.mget('{ioredis}a', '{ioredis}b');
  if (both.join(',') !== '1,2') throw new Error(`mget gave ${both}`);
  const counter = await cluster.incrby('ioredis:counter', 5);
  if (counter !== 5) throw new Error(`incrby gave ${counter}`);
  if (folder) {
    fs.writeFileSync(path.join(folder, 'ready'), '');
    const deadline = Date.now() + 120000;
    let rounds = 0;
    while (!fs.existsSync(path.join(folder, 'stop'))) {
      if (Date.now() > deadline) throw new Error('never told to stop');
      const i = rounds % keys;
      const n = await cluster.incr(`ioredis:counter:${i}`);
      if (n !== Math.floor(rounds / keys) + 1) throw new Error(`ioredis:counter:${i} is ${n} in round ${rounds}`);
      const got = await cluster.get(`ioredis:${i}`);
      if (got !== `value-${i}`) throw new Error(`ioredis:${i} is ${got}`);
      rounds++;
    }
    await checkAll();
    // The layout it knows now, once it has asked again (bounded).
    for (let i = 0; i < 50 && cluster.nodes('master').length !== Number(process.env.MASTERS || 0); i++) {
      await new Promise((done) => cluster.refreshSlotsCache(() => done()));
      await new Promise((done) => setTimeout(done, 100));
    }
    console.log(`rounds ${rounds}`);
  }
  const nodes = cluster.nodes('master').length;
  await cluster.quit();
  console.log(`ioredis ok: ${nodes} masters`);
}
main().catch((e) => { console.error('ioredis failed:', e); process.exit(1); });
