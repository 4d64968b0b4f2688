// Drives a ferry master and replica through the real @upstash/redis client
// (run by e2e/http_test.go: TestUpstashClient, with @upstash/redis
// installed beside a copy of this file). Environment: MASTER_URL,
// REPLICA_URL, TOKEN. Prints "ok" and exits 0 when every check passes.
import { Redis } from "@upstash/redis";
import assert from "node:assert/strict";

const token = process.env.TOKEN;
const master = new Redis({ url: process.env.MASTER_URL, token, enableTelemetry: false });
const replica = new Redis({ url: process.env.REPLICA_URL, token, enableTelemetry: false });

async function rejects(promise, pattern, what) {
  try {
    await promise;
  } catch (err) {
    assert.match(String(err.message), pattern, what);
    return;
  }
  assert.fail(`${what}: no error`);
}

// Strings, JSON values (the client serializes them), counters.
assert.equal(await master.set("js:str", "hello"), "OK");
assert.equal(await master.get("js:str"), "hello");
assert.equal(await master.get("js:missing"), null);
assert.equal(await master.set("js:obj", { a: 1, b: [1, 2], s: "x" }), "OK");
assert.deepEqual(await master.get("js:obj"), { a: 1, b: [1, 2], s: "x" });
assert.equal(await master.set("js:uni", "héllo wörld 😀 \n\"q\""), "OK");
assert.equal(await master.get("js:uni"), "héllo wörld 😀 \n\"q\"");
assert.equal(await master.incr("js:n"), 1);
assert.equal(await master.incrby("js:n", 41), 42);
assert.equal(await master.set("js:ttl", "v", { ex: 100 }), "OK");
const ttl = await master.ttl("js:ttl");
assert.ok(ttl > 90 && ttl <= 100, `ttl ${ttl}`);
assert.equal(await master.set("js:ttl", "w", { nx: true }), null);

// Hashes, lists, sets, sorted sets.
assert.equal(await master.hset("js:h", { f1: "v1", f2: 2 }), 2);
assert.deepEqual(await master.hgetall("js:h"), { f1: "v1", f2: 2 });
assert.equal(await master.rpush("js:l", "a", "b", "c"), 3);
assert.deepEqual(await master.lrange("js:l", 0, -1), ["a", "b", "c"]);
assert.equal(await master.sadd("js:s", "m1", "m2"), 2);
assert.deepEqual((await master.smembers("js:s")).sort(), ["m1", "m2"]);
assert.equal(await master.zadd("js:z", { score: 1, member: "one" }, { score: 2, member: "two" }), 2);
assert.deepEqual(await master.zrange("js:z", 0, -1, { withScores: true }), ["one", 1, "two", 2]);
assert.equal(await master.del("js:l", "js:nothing"), 1);
assert.equal(await master.exists("js:l"), 0);

// Errors are the Redis error text.
await rejects(master.hget("js:str", "f"), /WRONGTYPE Operation against a key holding the wrong kind of value/, "WRONGTYPE");

// A pipeline: each command's result, in order.
const p = master.pipeline();
p.set("js:p", 1);
p.incr("js:p");
p.get("js:p");
p.hget("js:str", "f");
const pres = await p.exec({ keepErrors: true });
assert.deepEqual(pres.map((r) => r.result), ["OK", 2, 2, undefined]);
assert.match(pres[3].error, /WRONGTYPE/);

// A transaction.
const tx = master.multi();
tx.set("js:m", "a");
tx.append("js:m", "b");
tx.get("js:m");
tx.incr("js:n");
assert.deepEqual(await tx.exec(), ["OK", 2, "ab", 43]);

// Read-your-writes on the replica: it waits for the master's sync token.
for (let i = 1; i <= 50; i++) {
  assert.equal(await master.incr("js:ryw"), i);
  replica.readYourWritesSyncToken = master.readYourWritesSyncToken;
  assert.equal(await replica.get("js:ryw"), i, `replica read ${i} with the master's sync token`);
}
assert.deepEqual(await replica.hgetall("js:h"), { f1: "v1", f2: 2 });
const rp = replica.pipeline();
rp.get("js:str");
rp.get("js:m");
assert.deepEqual(await rp.exec(), ["hello", "ab"]);

// Writes to the replica are refused.
await rejects(replica.set("js:x", "y"), /READONLY You can't write against a read only replica/, "write to a replica");

// A wrong token.
const intruder = new Redis({ url: process.env.MASTER_URL, token: "wrong", enableTelemetry: false });
await rejects(intruder.get("js:str"), /Unauthorized/, "wrong token");

console.log("ok");
