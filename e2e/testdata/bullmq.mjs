// Runs a BullMQ queue against a ferry master (run by e2e/bullmq_test.go:
// TestBullMQ, with bullmq installed beside a copy of this file). BullMQ
// keeps its state in hashes, lists, sorted sets and a stream, changes it
// only through Lua scripts (cmsgpack, cjson, TIME, XADD with MAXLEN ~), and
// blocks on BZPOPMIN and XREAD. Environment: MASTER_PORT. Prints "ok" and
// exits 0 when every check passes.
import { Queue, Worker, QueueEvents, FlowProducer } from "bullmq";
import { Redis } from "ioredis";
import assert from "node:assert/strict";

// In an ES module BullMQ takes ioredis clients, not connection options.
const port = Number(process.env.MASTER_PORT);
const conns = [];
const connect = () => {
  const c = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: null });
  conns.push(c);
  return c;
};
const name = "ferry-e2e";
const queue = new Queue(name, { connection: connect() });
const events = new QueueEvents(name, { connection: connect() });
await events.waitUntilReady();

const completed = new Set();
events.on("completed", ({ jobId }) => completed.add(jobId));

// 40 plain jobs, 5 delayed, 5 prioritized, one that fails once then
// succeeds, one that always fails.
const jobs = [];
for (let i = 0; i < 40; i++) jobs.push({ name: "add", data: { a: i, b: 2 * i } });
await queue.addBulk(jobs);
for (let i = 0; i < 5; i++) await queue.add("add", { a: 100 + i, b: 1 }, { delay: 200 + 50 * i });
for (let i = 0; i < 5; i++) await queue.add("add", { a: 200 + i, b: 1 }, { priority: 1 + i });
const flaky = await queue.add("flaky", { a: 1, b: 1 }, { attempts: 2, backoff: { type: "fixed", delay: 50 } });
const broken = await queue.add("broken", {}, { attempts: 2, backoff: { type: "fixed", delay: 50 } });
assert.deepEqual(Object.keys(await queue.getJobCounts()).length > 0, true);

const seen = new Map();
const worker = new Worker(
  name,
  async (job) => {
    seen.set(job.name, (seen.get(job.name) || 0) + 1);
    if (job.name === "broken") throw new Error("always broken");
    if (job.name === "flaky" && job.attemptsMade === 0) throw new Error("first attempt fails");
    await job.updateProgress(50);
    return job.data.a + job.data.b;
  },
  { connection: connect(), concurrency: 4 },
);

const total = 40 + 5 + 5 + 1;
const deadline = Date.now() + 60000;
while (Date.now() < deadline) {
  const counts = await queue.getJobCounts("completed", "failed");
  if (counts.completed === total && counts.failed === 1) break;
  await new Promise((r) => setTimeout(r, 100));
}
const counts = await queue.getJobCounts("completed", "failed", "wait", "delayed", "active", "prioritized");
assert.deepEqual(counts, { completed: total, failed: 1, wait: 0, delayed: 0, active: 0, prioritized: 0 }, "job counts");

// Return values and attempts as BullMQ recorded them.
const done = await queue.getCompleted(0, -1);
assert.equal(done.length, total);
for (const job of done) assert.equal(job.returnvalue, job.data.a + job.data.b, `return value of job ${job.id}`);
const f = await queue.getJob(flaky.id);
assert.equal(f.attemptsMade, 2, "flaky attempts");
assert.equal(await f.getState(), "completed");
const b = await queue.getJob(broken.id);
assert.equal(await b.getState(), "failed");
assert.equal(b.failedReason, "always broken");
assert.equal(b.attemptsMade, 2, "broken attempts");

// The events stream carried a completion for every job.
const evDeadline = Date.now() + 10000;
while (completed.size < total && Date.now() < evDeadline) await new Promise((r) => setTimeout(r, 50));
assert.equal(completed.size, total, "completed events");

// A flow: the parent runs after its children.
const flows = new FlowProducer({ connection: connect() });
const order = [];
const fworker = new Worker(
  "ferry-flow",
  async (job) => {
    order.push(job.name);
    if (job.name === "parent") {
      const kids = await job.getChildrenValues();
      return Object.values(kids).reduce((s, v) => s + v, 0);
    }
    return job.data.n;
  },
  { connection: connect() },
);
// The flow's events are read from the stream's end ($): listen before the
// jobs are added, or a parent that finishes first is never heard of.
const flowEvents = new QueueEvents("ferry-flow", { connection: connect() });
await flowEvents.waitUntilReady();
const tree = await flows.add({
  name: "parent",
  queueName: "ferry-flow",
  children: [1, 2, 3].map((n) => ({ name: "child", queueName: "ferry-flow", data: { n } })),
});
const parent = await tree.job.waitUntilFinished(flowEvents, 20000);
assert.equal(parent, 6, "flow result");
assert.equal(order[order.length - 1], "parent");

await worker.close();
await fworker.close();
await flows.close();
await flowEvents.close();
await events.close();
await queue.close();
for (const c of conns) c.disconnect();
console.log("ok");
process.exit(0);
