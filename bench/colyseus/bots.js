#!/usr/bin/env node
// Colyseus comparison bots: N players in one room through the Colyseus SDK.
//
// Each bot joins the room by id, then (after "go") sends a move every
// 1000/rate ms (phase spread at random): one king's step inside the board, with
// its generation counter incremented. It stamps performance.now() per
// (player, generation). Every bot registers, with the SDK's standard callbacks
// API, a listener on each other player's `generation`; when a change arrives
// for a player that is a bot of this same process, the latency send -> seen is
// put into a histogram (0.1 ms bins). With several processes, each process
// measures only the moves of its own bots (as seen by its own bots), so the
// clocks compared are always the same process's clock.
//
// Every WebSocket message a bot receives is counted (and its bytes).
//
// Usage (normally started by run.mjs, which talks to it over IPC):
//   node bots.js --port 2567 --room ROOMID [-n 800] [-r 1] [--first 0]
//                [--join-concurrency 50] [-t 30] [--warmup 5]
// Standalone (no IPC): joins, moves for warmup + t seconds, prints one JSON
// report of the last t seconds and exits.
'use strict';

const { performance } = require('node:perf_hooks');
const { Client, Callbacks } = require('@colyseus/sdk');

function arg(names, def) {
  for (const name of [].concat(names)) {
    const i = process.argv.indexOf(name);
    if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  }
  return def;
}

const PORT = Number(arg('--port', 2567));
const HOST = arg('--host', '127.0.0.1');
const ROOM_ID = arg('--room', null);
const N = Number(arg(['-n', '--bots'], 800));
const RATE = Number(arg(['-r', '--rate'], 1));
const FIRST = Number(arg('--first', 0));
const JOIN_CONCURRENCY = Number(arg('--join-concurrency', 50));
const T = Number(arg(['-t', '--seconds'], 30));
const WARMUP = Number(arg('--warmup', 5));

// Histogram of move -> seen-by-others latency, 0.1 ms bins up to 10 s.
const BIN_MS = 0.1;
const NBINS = 100000;
const RING = 256; // per-mover ring of (generation -> send time)

const bots = [];                 // { room, sessionId, x, y, gen, sentGen, sentAt, timer }
const bySession = new Map();     // sessionId -> bot (this process only)
let measuring = false;
let moving = false;
let stats = newStats();

function newStats() {
  return {
    msgs: 0, bytes: 0, movesSent: 0, samples: 0, overflow: 0, maxMs: 0,
    hist: new Uint32Array(NBINS), drops: 0, leaves: 0, errors: 0,
    t0: performance.now(),
  };
}

function record(sessionId, gen) {
  if (!measuring) return;
  const mover = bySession.get(sessionId);
  if (mover === undefined) return;
  const k = gen & (RING - 1);
  if (mover.sentGen[k] !== gen) return;
  const ms = performance.now() - mover.sentAt[k];
  const bin = Math.floor(ms / BIN_MS);
  if (bin < NBINS) stats.hist[bin]++; else stats.overflow++;
  if (ms > stats.maxMs) stats.maxMs = ms;
  stats.samples++;
}

function step(bot, width, height) {
  for (;;) {
    const dx = Math.floor(Math.random() * 3) - 1;
    const dy = Math.floor(Math.random() * 3) - 1;
    if (dx === 0 && dy === 0) continue;
    const x = bot.x + dx, y = bot.y + dy;
    if (x >= 0 && y >= 0 && x < width && y < height) { bot.x = x; bot.y = y; return; }
  }
}

function sendMove(bot) {
  if (!moving || bot.left) return;
  const st = bot.room.state;
  step(bot, st.width, st.height);
  const gen = ++bot.gen;
  const k = gen & (RING - 1);
  bot.sentGen[k] = gen;
  bot.sentAt[k] = performance.now();
  bot.room.send('move', { x: bot.x, y: bot.y, h: false, generation: gen });
  if (measuring) stats.movesSent++;
}

async function joinOne(client, i) {
  const room = await client.joinById(ROOM_ID, { name: `bot${FIRST + i}` });
  const bot = {
    room, sessionId: room.sessionId, x: 0, y: 0, gen: 0,
    sentGen: new Int32Array(RING).fill(-1), sentAt: new Float64Array(RING), timer: null, left: false,
  };
  // Count every WebSocket message this bot receives from here on.
  const events = room.connection.events;
  const orig = events.onmessage;
  events.onmessage = (ev) => {
    if (measuring) { stats.msgs++; stats.bytes += ev.data.byteLength; }
    orig(ev);
  };
  room.onLeave(() => { bot.left = true; stats.leaves++; });
  room.onDrop && room.onDrop(() => { stats.drops++; });
  room.onError(() => { stats.errors++; });

  const cb = Callbacks.get(room);
  cb.onAdd('players', (player, key) => {
    if (key === bot.sessionId) {
      bot.x = player.x; bot.y = player.y; bot.gen = player.generation;
      return;
    }
    cb.listen(player, 'generation', (gen) => record(key, gen), false);
  });
  bots.push(bot);
  bySession.set(bot.sessionId, bot);
  return bot;
}

async function joinAll() {
  const client = new Client(`ws://${HOST}:${PORT}`);
  let next = 0;
  const t0 = performance.now();
  async function worker() {
    while (next < N) {
      const i = next++;
      await joinOne(client, i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(JOIN_CONCURRENCY, N) }, worker));
  return performance.now() - t0;
}

function go() {
  moving = true;
  const period = 1000 / RATE;
  for (const bot of bots) {
    setTimeout(() => {
      sendMove(bot);
      bot.timer = setInterval(() => sendMove(bot), period);
    }, Math.random() * period);
  }
}

function mark() {
  stats = newStats();
  measuring = true;
}

function quantile(hist, total, q) {
  if (total === 0) return null;
  const target = Math.ceil(q * total);
  let acc = 0;
  for (let i = 0; i < hist.length; i++) {
    acc += hist[i];
    if (acc >= target) return (i + 0.5) * BIN_MS;
  }
  return null; // in overflow
}

function report() {
  measuring = false;
  const seconds = (performance.now() - stats.t0) / 1000;
  // Sparse histogram, so the parent can merge processes exactly.
  const sparse = [];
  for (let i = 0; i < NBINS; i++) if (stats.hist[i]) sparse.push(i, stats.hist[i]);
  const total = stats.samples;
  return {
    bots: bots.length, seconds, msgs: stats.msgs, bytes: stats.bytes, movesSent: stats.movesSent,
    samples: total, overflow: stats.overflow, maxMs: stats.maxMs,
    p50: quantile(stats.hist, total, 0.5), p99: quantile(stats.hist, total, 0.99),
    binMs: BIN_MS, hist: sparse, drops: stats.drops, leaves: stats.leaves, errors: stats.errors,
  };
}

async function stop() {
  moving = false;
  for (const bot of bots) clearInterval(bot.timer);
  await Promise.race([
    Promise.allSettled(bots.map((b) => (b.left ? null : b.room.leave(true)))),
    new Promise((r) => setTimeout(r, 3000)),
  ]);
}

async function main() {
  if (!ROOM_ID) throw new Error('--room ROOMID is required (run.mjs passes it)');
  const joinMs = await joinAll();
  if (process.send) {
    process.on('message', async (msg) => {
      if (!msg) return;
      if (msg.cmd === 'go') go();
      else if (msg.cmd === 'mark') mark();
      else if (msg.cmd === 'report') process.send({ report: report() });
      else if (msg.cmd === 'stop') { await stop(); process.exit(0); }
    });
    process.on('disconnect', () => process.exit(0));
    process.send({ joined: bots.length, joinMs });
  } else {
    console.error(`joined ${bots.length} in ${joinMs.toFixed(0)} ms`);
    go();
    setTimeout(mark, WARMUP * 1000);
    setTimeout(async () => {
      const r = report();
      delete r.hist;
      console.log(JSON.stringify(r));
      await stop();
      process.exit(0);
    }, (WARMUP + T) * 1000);
  }
}

main().catch((e) => {
  if (process.send) process.send({ error: String(e && e.stack || e) });
  console.error(e);
  process.exit(1);
});
