// noderedis.mjs drives a ferry master (MASTER_PORT) and its replica
// (REPLICA_PORT) through node-redis v5, the way its users do, in RESP2 and
// in RESP3 (each in its own database). Every assertion holds against
// redis-server 7.0 with a replica; the script prints "ok" when all pass.
import assert from 'node:assert/strict';
import { createClient, createClientPool, defineScript, ErrorReply, GEO_REPLY_WITH, MultiErrorReply, RESP_TYPES, WatchError } from 'redis';

const host = '127.0.0.1';
const masterPort = Number(process.env.MASTER_PORT);
const replicaPort = Number(process.env.REPLICA_PORT);
assert.ok(masterPort > 0 && replicaPort > 0, 'MASTER_PORT and REPLICA_PORT must be set');

const clients = [];

// connect opens a client to port with node-redis options opts; any
// 'error' event (a dropped connection, a protocol error) fails the run.
async function connect(port, opts = {}) {
  const c = createClient({ socket: { host, port, reconnectStrategy: false }, ...opts });
  c.on('error', err => { console.error(`client on ${port}: ${err.stack ?? err}`); process.exit(1); });
  await c.connect();
  clients.push(c);
  return c;
}

// eventually calls f every 5 ms until it returns without throwing, and
// rethrows its last error after 5 s.
async function eventually(f) {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return await f();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise(r => setTimeout(r, 5));
    }
  }
}

// rejectsWith asserts that promise fails with an ErrorReply whose message
// is exactly message.
async function rejectsWith(promise, message) {
  await assert.rejects(promise, err => {
    assert.ok(err instanceof ErrorReply, `${err} is not an ErrorReply`);
    assert.equal(err.message, message);
    return true;
  });
}

// flat collects every batch an async iterator (node-redis v5's scan
// iterators yield one batch per cursor step) into one array.
async function flat(iter) {
  const out = [];
  for await (const batch of iter) out.push(...batch);
  return out;
}

// same asserts that actual, as plain JSON data, deeply equals expected:
// node-redis builds its objects without a prototype, and the assertions
// are about the data.
function same(actual, expected, message) {
  const plain = actual === undefined ? actual : JSON.parse(JSON.stringify(actual));
  assert.deepEqual(plain, expected, message);
}

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';
const byValue = (a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0);

// incrBy2 adds twice its argument to a key: a script node-redis sends with
// EVALSHA, falling back to EVAL on NOSCRIPT.
const incrBy2 = defineScript({
  SCRIPT: "return redis.call('INCRBY', KEYS[1], 2 * tonumber(ARGV[1]))",
  NUMBER_OF_KEYS: 1,
  parseCommand(parser, key, by) {
    parser.pushKey(key);
    parser.push(String(by));
  },
  transformReply: undefined,
});

// readPair is a read-only script (EVALSHA_RO, then EVAL), run on the
// replica too.
const readPair = defineScript({
  SCRIPT: "return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}",
  NUMBER_OF_KEYS: 2,
  IS_READ_ONLY: true,
  parseCommand(parser, a, b) {
    parser.pushKey(a);
    parser.pushKey(b);
  },
  transformReply: undefined,
});

const LIBRARY = `#!lua name=nrlib
redis.register_function('nr_incr', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)
redis.register_function{function_name='nr_get', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}
`;

// The library's functions as node-redis calls them (FCALL, FCALL_RO).
const functions = {
  nrlib: {
    nr_incr: {
      NUMBER_OF_KEYS: 1,
      parseCommand(parser, key, by) {
        parser.pushKey(key);
        parser.push(String(by));
      },
      transformReply: undefined,
    },
    nr_get: {
      NUMBER_OF_KEYS: 1,
      IS_READ_ONLY: true,
      parseCommand(parser, key) {
        parser.pushKey(key);
      },
      transformReply: undefined,
    },
  },
};

// run exercises the master (c) and the replica in protocol resp, in
// database resp.
async function run(resp) {
  // unstableResp3: node-redis v5 refuses XREAD in RESP3 without it.
  const opts = { RESP: resp, database: resp, scripts: { incrBy2, readPair }, functions, unstableResp3: resp === 3 };
  const c = await connect(masterPort, { ...opts, name: `nr${resp}` }); // HELLO ... SETNAME
  const r = await connect(replicaPort, opts);
  await c.flushDb();
  const ch = `p${resp}:`; // pub/sub is not per database

  const hello = await c.hello();
  assert.equal(hello.proto, resp);
  assert.equal(hello.role, 'master');
  assert.equal(await c.clientGetName(), `nr${resp}`);
  assert.equal(await c.ping(), 'PONG');

  // Strings.
  assert.equal(await c.set('s', 'v', { EX: 100 }), 'OK');
  assert.equal(await c.ttl('s'), 100);
  assert.equal(await c.set('s', 'x', { NX: true }), null);
  assert.equal(await c.set('s', 'v2', { KEEPTTL: true, GET: true }), 'v');
  assert.ok((await c.pTTL('s')) > 99000);
  assert.equal(await c.get('missing'), null);
  assert.equal(await c.incrBy('n', 5), 5);
  assert.equal(await c.incrByFloat('f', 1.5), '1.5');
  assert.equal(await c.append('s', '!'), 3);
  same(await c.mGet(['s', 'missing', 'n']), ['v2!', null, '5']);
  assert.equal(await c.mSetNX({ m1: 'a', m2: 'b' }), 1);
  assert.equal(await c.getDel('m2'), 'b');
  assert.equal(await c.getRange('s', 0, 1), 'v2');
  assert.equal(await c.exists(['s', 'n', 'missing']), 2);
  assert.equal(await c.type('s'), 'string');

  // Hashes: HGETALL as an object.
  assert.equal(await c.hSet('h', { a: '1', b: 'two', c: '3' }), 3);
  same(await c.hGetAll('h'), { a: '1', b: 'two', c: '3' });
  same(await c.hGetAll('missing'), {});
  assert.equal(await c.hGet('h', 'b'), 'two');
  assert.equal(await c.hGet('h', 'z'), null);
  same(await c.hmGet('h', ['a', 'z', 'c']), ['1', null, '3']);
  assert.equal(await c.hIncrBy('h', 'a', 10), 11);
  assert.equal(await c.hIncrByFloat('h', 'a', 0.5), '11.5');
  assert.equal(await c.hExists('h', 'b'), 1);
  assert.equal(await c.hDel('h', ['b', 'z']), 1);
  assert.equal(await c.hLen('h'), 2);
  same((await c.hKeys('h')).sort(), ['a', 'c']);

  // Lists.
  assert.equal(await c.rPush('l', ['a', 'b', 'c']), 3);
  assert.equal(await c.lPush('l', 'z'), 4);
  same(await c.lRange('l', 0, -1), ['z', 'a', 'b', 'c']);
  assert.equal(await c.lPos('l', 'b'), 2);
  assert.equal(await c.lInsert('l', 'BEFORE', 'b', 'ab'), 5);
  assert.equal(await c.lMove('l', 'l2', 'RIGHT', 'LEFT'), 'c');
  same(await c.lPopCount('l', 2), ['z', 'a']);
  assert.equal(await c.lLen('l'), 2);
  assert.equal(await c.lIndex('l', -1), 'b');
  same(await c.lmPop(['none', 'l'], 'LEFT', { COUNT: 5 }), ['l', ['ab', 'b']]);
  assert.equal(await c.exists('l'), 0);

  // Sets.
  assert.equal(await c.sAdd('st', ['a', 'b', 'c']), 3);
  assert.equal(await c.sAdd('st2', ['b', 'c', 'd']), 3);
  same((await c.sMembers('st')).sort(), ['a', 'b', 'c']);
  assert.equal(await c.sIsMember('st', 'a'), 1);
  same(await c.smIsMember('st', ['a', 'x']), [1, 0]);
  same((await c.sInter(['st', 'st2'])).sort(), ['b', 'c']);
  assert.equal(await c.sInterCard(['st', 'st2']), 2);
  assert.equal(await c.sUnionStore('su', ['st', 'st2']), 4);
  assert.equal(await c.sCard('su'), 4);
  assert.equal(await c.sMove('st', 'st2', 'a'), 1);

  // Sorted sets: scores as numbers, WITHSCORES as {value, score}.
  assert.equal(await c.zAdd('z', [{ score: 1, value: 'a' }, { score: 2.5, value: 'b' }, { score: -3, value: 'c' }]), 3);
  same(await c.zRange('z', 0, -1), ['c', 'a', 'b']);
  same(await c.zRangeWithScores('z', 0, -1), [
    { value: 'c', score: -3 }, { value: 'a', score: 1 }, { value: 'b', score: 2.5 },
  ]);
  same(await c.zRange('z', '+inf', 0, { BY: 'SCORE', REV: true }), ['b', 'a']);
  same(await c.zRange('z', 0, 10, { BY: 'SCORE', LIMIT: { offset: 1, count: 1 } }), ['b']);
  assert.equal(await c.zScore('z', 'b'), 2.5);
  assert.equal(await c.zScore('z', 'nope'), null);
  same(await c.zmScore('z', ['a', 'nope']), [1, null]);
  assert.equal(await c.zIncrBy('z', 0.25, 'a'), 1.25);
  assert.equal(await c.zRank('z', 'b'), 2);
  assert.equal(await c.zCount('z', '-inf', 1.25), 2);
  same(await c.zPopMin('z'), { value: 'c', score: -3 });
  same(await c.zPopMaxCount('z', 5), [{ value: 'b', score: 2.5 }, { value: 'a', score: 1.25 }]);
  assert.equal(await c.zAdd('z', [{ score: 1, value: 'x' }, { score: 2, value: 'y' }]), 2);
  assert.equal(await c.zAddIncr('z', { score: 5, value: 'x' }), 6);
  same(await c.zUnionWithScores([{ key: 'z', weight: 1 }, { key: 'z', weight: 2 }]), [
    { value: 'y', score: 6 }, { value: 'x', score: 18 },
  ]);

  // Keys: expiry, copy, rename; binary values through DUMP and RESTORE
  // with Buffer replies, as node-redis's README shows.
  assert.equal(await c.expire('su', 100, 'NX'), 1);
  assert.equal(await c.expire('su', 50, 'GT'), 0);
  assert.equal(await c.copy('su', 'su2'), 1);
  assert.equal(await c.ttl('su2'), 100); // COPY keeps the TTL
  assert.equal(await c.rename('su2', 'su3'), 'OK');
  const bin = c.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 13, 10]);
  assert.equal(await bin.set('bin', bytes), 'OK');
  assert.deepEqual(await bin.get('bin'), bytes);
  const dumped = await bin.dump('z');
  assert.ok(Buffer.isBuffer(dumped));
  assert.equal(await bin.restore('zcopy', 0, dumped), 'OK');
  same(await c.zRangeWithScores('zcopy', 0, -1), [{ value: 'y', score: 2 }, { value: 'x', score: 6 }]);
  await rejectsWith(bin.restore('zcopy', 0, dumped), 'BUSYKEY Target key name already exists.');
  await rejectsWith(bin.restore('other', 0, Buffer.from('not a dump')), 'ERR DUMP payload version or checksum are wrong');

  // Random picks, encodings, SORT, LCS.
  const picked = await c.hRandFieldCountWithValues('h', -5);
  assert.equal(picked.length, 5);
  for (const { field, value } of picked) assert.equal({ a: '11.5', c: '3' }[field], value);
  const zpicked = await c.zRandMemberCountWithScores('z', 2);
  same(zpicked.sort(byValue), [{ value: 'x', score: 6 }, { value: 'y', score: 2 }]);
  assert.equal(await c.objectEncoding('h'), 'listpack');
  assert.equal(await c.objectEncoding('l2'), 'quicklist');
  assert.equal(await c.objectEncoding('n'), 'int');
  same(await c.sort('su3', { ALPHA: true, DIRECTION: 'DESC', LIMIT: { offset: 1, count: 2 } }), ['c', 'b']);
  assert.equal(await c.lcs('s', 'm1'), '');
  assert.equal(await c.lcsLen('s', 'm1'), 0);
  await rejectsWith(c.lcs('s', 'su3'), 'ERR The specified keys must contain string values');

  // The connection as CLIENT INFO and CLIENT LIST show it.
  const me = await c.clientInfo();
  assert.equal(me.name, `nr${resp}`);
  assert.equal(me.db, resp);
  assert.equal(me.resp, resp);
  assert.ok((await c.clientList()).some(cl => cl.id === me.id && cl.name === `nr${resp}`));

  // Geo.
  assert.equal(await c.geoAdd('geo', [
    { longitude: 13.361389, latitude: 38.115556, member: 'Palermo' },
    { longitude: 15.087269, latitude: 37.502669, member: 'Catania' },
  ]), 2);
  same(await c.geoSearchWith('geo', { longitude: 15, latitude: 37 }, { radius: 200, unit: 'km' },
    [GEO_REPLY_WITH.DISTANCE], { SORT: 'ASC' }), [
    { member: 'Catania', distance: '56.4413' }, { member: 'Palermo', distance: '190.4424' }, // strings in RESP3 too
  ]);
  assert.equal(await c.geoDist('geo', 'Palermo', 'Catania', 'km'), 166.2742);

  // Streams: consumer groups, XREADGROUP, XPENDING, XAUTOCLAIM.
  assert.equal(await c.xAdd('x', '1-1', { a: '1' }), '1-1');
  assert.equal(await c.xAdd('x', '1-2', { b: '2', c: '3' }), '1-2');
  assert.equal(await c.xGroupCreate('x', 'g', '0'), 'OK');
  assert.equal(await c.xLen('x'), 2);
  same(await c.xRange('x', '-', '+'), [
    { id: '1-1', message: { a: '1' } }, { id: '1-2', message: { b: '2', c: '3' } },
  ]);
  const batch = await c.xReadGroup('g', 'c1', { key: 'x', id: '>' }, { COUNT: 1 });
  const messages = [{ id: '1-1', message: { a: '1' } }];
  if (resp === 2) {
    same(batch, [{ name: 'x', messages }]);
  } else {
    // node-redis leaves RESP3's map of streams as it comes.
    same(batch, { x: [['1-1', ['a', '1']]] });
  }
  await c.xReadGroup('g', 'c1', { key: 'x', id: '>' });
  assert.equal(await c.xReadGroup('g', 'c1', { key: 'x', id: '>' }), null);
  assert.equal(await c.xAck('x', 'g', '1-2'), 1);
  const pending = await c.xPending('x', 'g');
  assert.equal(pending.pending, 1);
  assert.equal(pending.firstId, '1-1');
  assert.equal(pending.lastId, '1-1');
  same(pending.consumers, [{ name: 'c1', deliveriesCounter: 1 }]);
  const claimed = await c.xAutoClaim('x', 'g', 'c2', 0, '0-0');
  same(claimed, { nextId: '0-0', messages, deletedMessages: [] });
  const info = await c.xInfoGroups('x');
  assert.equal(info.length, 1);
  assert.equal(info[0].name, 'g');
  assert.equal(info[0].consumers, 2);
  assert.equal(info[0].pending, 1);
  assert.equal(info[0]['last-delivered-id'], '1-2');
  assert.equal(await c.xDel('x', '1-1'), 1);
  same(await c.xAutoClaim('x', 'g', 'c1', 0, '0-0'), { nextId: '0-0', messages: [], deletedMessages: ['1-1'] });

  // Transactions.
  same(await c.multi().set('t', '1').incr('t').get('t').exec(), ['OK', 2, '2']);
  await assert.rejects(c.multi().incr('t').hSet('t', 'f', 'v').exec(), err => {
    assert.ok(err instanceof MultiErrorReply);
    same(err.errorIndexes, [1]);
    assert.equal(err.replies[0], 3);
    assert.equal(err.replies[1].message, WRONGTYPE);
    return true;
  });
  // A command refused while queued aborts EXEC; node-redis rejects with
  // the refusal.
  await rejectsWith(c.multi().set('t', '1').sendCommand(['NOSUCHCMD']).exec(),
    "ERR unknown command 'NOSUCHCMD', with args beginning with: ");
  assert.equal(await c.get('t'), '3');
  same(await c.multi().incr('t').get('t').execAsPipeline(), [4, '4']);

  // WATCH on a pooled client (v5's isolated execution): a write from
  // another client between WATCH and EXEC aborts the transaction.
  const pool = createClientPool({ socket: { host, port: masterPort }, RESP: resp, database: resp }, { minimum: 1, maximum: 2 });
  pool.on('error', err => { console.error(`pool: ${err.stack ?? err}`); process.exit(1); });
  await pool.connect();
  await assert.rejects(pool.execute(async w => {
    await w.watch('t');
    const v = Number(await w.get('t'));
    await c.set('t', '100');
    return w.multi().set('t', String(v + 1)).exec();
  }), WatchError);
  assert.equal(await c.get('t'), '100');
  same(await pool.execute(async w => {
    await w.watch('t');
    const v = Number(await w.get('t'));
    return w.multi().set('t', String(v + 1)).get('t').exec();
  }), ['OK', '101']);
  pool.destroy();

  // Scan iterators.
  const keys = [];
  for (let i = 0; i < 30; i++) keys.push(`scan:${i}`);
  await c.mSet(keys.map(k => [k, 'v']));
  same((await flat(c.scanIterator({ MATCH: 'scan:*', COUNT: 7 }))).sort(), [...keys].sort());
  same((await flat(c.scanIterator({ TYPE: 'hash' }))).sort(), ['h']);
  const fields = {};
  for (let i = 0; i < 200; i++) fields[`f${i}`] = String(i);
  await c.hSet('bigh', fields);
  const entries = await flat(c.hScanIterator('bigh', { COUNT: 50 }));
  same(Object.fromEntries(entries.map(e => [e.field, e.value])), fields);
  const members = Object.keys(fields);
  await c.sAdd('bigs', members);
  same((await flat(c.sScanIterator('bigs', { COUNT: 50 }))).sort(), [...members].sort());
  await c.zAdd('bigz', members.map((m, i) => ({ score: i / 4, value: m })));
  same((await flat(c.zScanIterator('bigz'))).sort(byValue), members.map((m, i) => ({ value: m, score: i / 4 })).sort(byValue));

  // Scripts: EVALSHA, NOSCRIPT, EVAL, then EVALSHA again.
  assert.equal(await c.scriptFlush(), 'OK');
  same(await c.scriptExists(incrBy2.SHA1), [0]);
  assert.equal(await c.incrBy2('sc', 3), 6); // NOSCRIPT, then EVAL
  same(await c.scriptExists(incrBy2.SHA1), [1]);
  assert.equal(await c.incrBy2('sc', 1), 8);
  assert.equal(await c.scriptLoad(incrBy2.SCRIPT), incrBy2.SHA1);
  same(await c.readPair('sc', 'nothing'), ['8', null]);
  same(await c.eval("return {1, 'two', {3}, redis.status_reply('OK'), false}", { keys: [], arguments: [] }), [1, 'two', [3], 'OK', null]);
  await rejectsWith(c.eval("return redis.error_reply('MY failure')"), 'MY failure');
  await rejectsWith(c.incrBy2('s', 1), 'ERR value is not an integer or out of range script: ' + incrBy2.SHA1 + ', on @user_script:1.');

  // Functions.
  assert.equal(await c.functionLoad(LIBRARY, { REPLACE: true }), 'nrlib');
  assert.equal(await c.nrlib.nr_incr('fn', 5), 5);
  assert.equal(await c.fCall('nr_incr', { keys: ['fn'], arguments: ['2'] }), 7);
  assert.equal(await c.nrlib.nr_get('fn'), '7');
  const libs = await c.functionList({ LIBRARYNAME: 'nrlib' });
  assert.equal(libs.length, 1);
  assert.equal(libs[0].library_name, 'nrlib');
  assert.equal(libs[0].engine, 'LUA');
  same(libs[0].functions.map(f => [f.name, f.flags]).sort(), [['nr_get', ['no-writes']], ['nr_incr', []]]);
  await rejectsWith(c.fCall('nope', { keys: [], arguments: [] }), 'ERR Function not found');

  // Pub/sub on subscriber clients, on the master and on the replica
  // (PUBLISH reaches the replica's subscribers, as in Redis).
  const sub = c.duplicate();
  sub.on('error', err => { console.error(`subscriber: ${err.stack ?? err}`); process.exit(1); });
  await sub.connect();
  clients.push(sub);
  const got = [];
  await sub.subscribe(`${ch}news`, (msg, channel) => got.push(['sub', channel, msg]));
  await sub.pSubscribe(`${ch}n*`, (msg, channel) => got.push(['psub', channel, msg]));
  await sub.sSubscribe(`${ch}shard`, (msg, channel) => got.push(['ssub', channel, msg]));
  const rsub = r.duplicate();
  rsub.on('error', err => { console.error(`replica subscriber: ${err.stack ?? err}`); process.exit(1); });
  await rsub.connect();
  clients.push(rsub);
  const rgot = [];
  await rsub.subscribe(`${ch}news`, (msg, channel) => rgot.push([channel, msg]));
  same(await c.pubSubNumSub(`${ch}news`), { [`${ch}news`]: 1 });
  same(await c.pubSubShardChannels(`${ch}*`), [`${ch}shard`]);
  assert.equal(await c.publish(`${ch}news`, 'hello'), 2);
  assert.equal(await c.sPublish(`${ch}shard`, 'sharded'), 1);
  assert.equal(await c.publish(`${ch}nothing`, 'only the pattern'), 1);
  await eventually(() => same(got, [
    ['sub', `${ch}news`, 'hello'], ['psub', `${ch}news`, 'hello'],
    ['ssub', `${ch}shard`, 'sharded'], ['psub', `${ch}nothing`, 'only the pattern'],
  ]));
  await eventually(() => same(rgot, [[`${ch}news`, 'hello']]));
  await sub.unsubscribe(`${ch}news`);
  assert.equal(await c.publish(`${ch}news`, 'again'), 1); // the pattern still matches
  await eventually(() => same(got.at(-1), ['psub', `${ch}news`, 'again']));
  await sub.pUnsubscribe();
  await sub.sUnsubscribe();
  assert.equal(await c.publish(`${ch}news`, 'gone'), 0);

  // Keyspace notifications, as node-redis users subscribe to them.
  assert.equal(await c.configSet('notify-keyspace-events', 'Eg$'), 'OK');
  const events = [];
  await sub.pSubscribe(`__keyevent@${resp}__:*`, (key, channel) => events.push([channel, key]));
  await c.set('ev', '1');
  await c.del('ev');
  await eventually(() => same(events, [[`__keyevent@${resp}__:set`, 'ev'], [`__keyevent@${resp}__:del`, 'ev']]));
  assert.equal(await c.configSet('notify-keyspace-events', ''), 'OK');
  await sub.pUnsubscribe();

  // Blocking commands on a duplicated client, woken by another client.
  const blocker = c.duplicate();
  blocker.on('error', err => { console.error(`blocker: ${err.stack ?? err}`); process.exit(1); });
  await blocker.connect();
  clients.push(blocker);
  const blocked = async () => (await c.info('clients')).includes('\r\nblocked_clients:1\r\n');
  let popped = blocker.blPop(['bq1', 'bq2'], 5);
  await eventually(async () => assert.ok(await blocked()));
  assert.equal(await c.rPush('bq2', ['x', 'y']), 2);
  same(await popped, { key: 'bq2', element: 'x' });
  popped = blocker.bzPopMin('bz', 5);
  await eventually(async () => assert.ok(await blocked()));
  await c.zAdd('bz', { score: 7, value: 'm' });
  same(await popped, { key: 'bz', value: 'm', score: 7 });
  popped = blocker.xRead({ key: 'bx', id: '$' }, { BLOCK: 5000 });
  await eventually(async () => assert.ok(await blocked()));
  await c.xAdd('bx', '5-1', { k: 'v' });
  const streams = await popped;
  if (resp === 2) {
    same(streams, [{ name: 'bx', messages: [{ id: '5-1', message: { k: 'v' } }] }]);
  } else {
    same(streams, { bx: [['5-1', ['k', 'v']]] });
  }
  assert.equal(await blocker.blPop('never', 0.05), null);

  // XREAD BLOCK on the replica, woken by the master's XADD through the log.
  const rblocker = r.duplicate();
  rblocker.on('error', err => { console.error(`replica blocker: ${err.stack ?? err}`); process.exit(1); });
  await rblocker.connect();
  clients.push(rblocker);
  popped = rblocker.xRead({ key: 'rbx', id: '$' }, { BLOCK: 5000 });
  await eventually(async () => assert.ok((await r.info('clients')).includes('\r\nblocked_clients:1\r\n')));
  await c.xAdd('rbx', '9-1', { on: 'replica' });
  const rstreams = await popped;
  if (resp === 2) {
    same(rstreams, [{ name: 'rbx', messages: [{ id: '9-1', message: { on: 'replica' } }] }]);
  } else {
    same(rstreams, { rbx: [['9-1', ['on', 'replica']]] });
  }

  // Errors come back as ErrorReply with Redis's exact text.
  await rejectsWith(c.lPush('s', 'a'), WRONGTYPE);
  await rejectsWith(c.hGetAll('s'), WRONGTYPE);
  await rejectsWith(c.incr('s'), 'ERR value is not an integer or out of range');
  await rejectsWith(c.sendCommand(['NOSUCHCMD', 'x']), "ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' ");
  await rejectsWith(c.sendCommand(['GET']), "ERR wrong number of arguments for 'get' command");

  // The replica: reads work once the writes reach it, writes are refused.
  const rhello = await r.hello();
  assert.equal(rhello.role, 'replica');
  await eventually(async () => assert.equal(await r.get('t'), '101'));
  assert.equal(await r.get('s'), 'v2!');
  same(await r.hGetAll('h'), { a: '11.5', c: '3' });
  same(await r.zRangeWithScores('z', 0, -1), [{ value: 'y', score: 2 }, { value: 'x', score: 6 }]);
  same(await r.xRange('x', '-', '+'), [{ id: '1-2', message: { b: '2', c: '3' } }]);
  assert.equal((await flat(r.scanIterator({ MATCH: 'scan:*' }))).length, 30);
  same(await r.readPair('sc', 'n'), ['8', '5']);
  assert.equal(await r.nrlib.nr_get('fn'), '7');
  await rejectsWith(r.set('s', 'nope'), "READONLY You can't write against a read only replica.");
  await rejectsWith(r.nrlib.nr_incr('fn', 1), "READONLY You can't write against a read only replica.");
  await rejectsWith(r.multi().set('s', 'nope').exec(), "READONLY You can't write against a read only replica.");
  await rejectsWith(r.blPop('bq2', 1), "READONLY You can't write against a read only replica.");
}

// clientSideCaching reads keys through node-redis's client-side cache
// (RESP3, CLIENT TRACKING ON) on the master and on the replica; a write on
// the master must evict them so that the caches see the new values.
async function clientSideCaching() {
  const opts = { RESP: 3, database: 4, clientSideCache: { ttl: 0, maxEntries: 0 } };
  const c = await connect(masterPort, { RESP: 3, database: 4 });
  const cm = await connect(masterPort, opts);
  const cr = await connect(replicaPort, opts);
  await c.set('csc', 'v1');
  await c.hSet('csch', { f: '1' });
  await eventually(async () => assert.equal(await cr.get('csc'), 'v1'));
  for (const cc of [cm, cr]) {
    const cache = cc.clientSideCache;
    assert.equal(await cc.get('csc'), 'v1');
    const hits = cache.stats().hitCount;
    assert.equal(await cc.get('csc'), 'v1');
    assert.equal(cache.stats().hitCount, hits + 1, 'the second GET is served from the cache');
    await eventually(async () => same(await cc.hGetAll('csch'), { f: '1' }));
    await cc.hGetAll('csch');
  }
  await c.set('csc', 'v2');
  await c.hSet('csch', { g: '2' });
  for (const cc of [cm, cr]) {
    await eventually(async () => assert.equal(await cc.get('csc'), 'v2'));
    await eventually(async () => same(await cc.hGetAll('csch'), { f: '1', g: '2' }));
    const hits = cc.clientSideCache.stats().hitCount;
    assert.equal(await cc.get('csc'), 'v2');
    assert.equal(cc.clientSideCache.stats().hitCount, hits + 1, 'the new value is cached again');
  }
  // A deletion and a flush evict too.
  await c.del('csc');
  for (const cc of [cm, cr]) await eventually(async () => assert.equal(await cc.get('csc'), null));
  await c.set('csc', 'v3');
  for (const cc of [cm, cr]) await eventually(async () => assert.equal(await cc.get('csc'), 'v3'));
  await c.flushDb();
  for (const cc of [cm, cr]) await eventually(async () => assert.equal(await cc.get('csc'), null));
}

for (const resp of [2, 3]) {
  try {
    await run(resp);
  } catch (err) {
    console.error(`RESP${resp}:`);
    throw err;
  }
}
await clientSideCaching();
for (const c of clients) c.destroy();
console.log('ok');
