#!/usr/bin/env node
// One Colyseus comparison run: server + bots, server CPU per WebSocket message.
//
//   node run.mjs [--patch-ms 50] [-n 800] [-r 1] [-t 30] [--procs 2]
//                [--warmup 5] [--port 0] [--join-concurrency 50] [--json]
//
// 1. starts server.js (patch interval --patch-ms) and waits for its room;
// 2. starts --procs bot processes (bots.js), -n bots in all, and waits until
//    every bot has joined;
// 3. lets the bots move (-r moves per second each) for --warmup seconds;
// 4. measures for -t seconds: the server process's CPU (utime + stime of
//    /proc/<pid>/stat, all its threads), the bot processes' CPU, the whole
//    machine's busy CPU (/proc/stat), the WebSocket messages the server wrote
//    (counted in the server at its transport's send) and the messages the
//    bots received (counted in the bots), and move -> seen-by-others latency;
// 5. prints one line (or, with --json, one JSON object), stops everything.
import { fork, execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const o = {
    patchMs: 50, n: 800, rate: 1, seconds: 30, procs: 2, warmup: 5, port: 0,
    joinConcurrency: 50, json: false, width: 39, height: 23,
  };
  const num = (i) => {
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v)) throw new Error(`${argv[i]} needs a number`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--patch-ms': o.patchMs = num(i); i++; break;
      case '-n': case '--bots': case '--players': o.n = num(i); i++; break;
      case '-r': case '--rate': o.rate = num(i); i++; break;
      case '-t': case '--seconds': o.seconds = num(i); i++; break;
      case '--procs': o.procs = num(i); i++; break;
      case '--warmup': o.warmup = num(i); i++; break;
      case '--port': o.port = num(i); i++; break;
      case '--join-concurrency': o.joinConcurrency = num(i); i++; break;
      case '--width': o.width = num(i); i++; break;
      case '--height': o.height = num(i); i++; break;
      case '--json': o.json = true; break;
      case '-h': case '--help':
        console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 16).join('\n'));
        process.exit(0);
        break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  o.procs = Math.max(1, Math.min(o.procs, o.n));
  return o;
}

const CLK_TCK = (() => {
  try { return Number(execSync('getconf CLK_TCK', { encoding: 'utf8' }).trim()) || 100; } catch { return 100; }
})();

// utime + stime of a process (all its threads), in seconds.
function procCpu(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;  // fields 14, 15
}

// Whole machine: busy and total jiffies over all CPUs.
function machineCpu() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function waitMessage(child, pred, what, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`timeout waiting for ${what}`)); }, timeoutMs);
    const onMsg = (m) => {
      if (m && m.error) { cleanup(); reject(new Error(`${what}: ${m.error}`)); return; }
      if (pred(m)) { cleanup(); resolve(m); }
    };
    const onExit = (code) => { cleanup(); reject(new Error(`${what}: process exited with ${code}`)); };
    function cleanup() { clearTimeout(timer); child.off('message', onMsg); child.off('exit', onExit); }
    child.on('message', onMsg);
    child.on('exit', onExit);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function mergeQuantiles(reports, binMs) {
  const m = new Map();
  let total = 0, overflow = 0, max = 0;
  for (const r of reports) {
    for (let i = 0; i < r.hist.length; i += 2) {
      m.set(r.hist[i], (m.get(r.hist[i]) || 0) + r.hist[i + 1]);
    }
    total += r.samples; overflow += r.overflow; max = Math.max(max, r.maxMs);
  }
  const bins = [...m.entries()].sort((a, b) => a[0] - b[0]);
  const q = (p) => {
    if (total === 0) return null;
    const target = Math.ceil(p * total);
    let acc = 0;
    for (const [bin, c] of bins) { acc += c; if (acc >= target) return (bin + 0.5) * binMs; }
    return Infinity; // in the overflow bin (>= 10 s)
  };
  return { samples: total, overflow, p50: q(0.5), p99: q(0.99), max };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const port = o.port || await freePort();
  const children = [];
  const killAll = () => { for (const c of children) { try { c.kill('SIGKILL'); } catch {} } };
  process.on('exit', killAll);
  process.on('SIGINT', () => { killAll(); process.exit(130); });
  process.on('SIGTERM', () => { killAll(); process.exit(143); });

  const server = fork(join(here, 'server.js'),
    ['--port', String(port), '--patch-ms', String(o.patchMs), '--width', String(o.width), '--height', String(o.height)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(server);
  const ready = await waitMessage(server, (m) => m && m.ready, 'server start', 30000);

  const askServer = async () => {
    const p = waitMessage(server, (m) => m && m.stats, 'server stats', 10000);
    server.send({ cmd: 'stats' });
    return (await p).stats;
  };

  // Bot processes, bots split as evenly as possible.
  const bots = [];
  let first = 0;
  for (let k = 0; k < o.procs; k++) {
    const n = Math.floor(o.n / o.procs) + (k < o.n % o.procs ? 1 : 0);
    const c = fork(join(here, 'bots.js'), [
      '--port', String(port), '--room', ready.roomId, '-n', String(n), '-r', String(o.rate),
      '--first', String(first), '--join-concurrency', String(Math.max(1, Math.ceil(o.joinConcurrency / o.procs))),
    ], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    first += n;
    children.push(c);
    bots.push(c);
  }
  const joinTimeout = 60000 + o.n * 200;
  const joined = await Promise.all(bots.map((c) => waitMessage(c, (m) => m && m.joined !== undefined, 'bots join', joinTimeout)));
  const joinedCount = joined.reduce((a, m) => a + m.joined, 0);
  const joinMs = Math.max(...joined.map((m) => m.joinMs));
  if (!o.json) process.stderr.write(`${joinedCount} bots joined in ${(joinMs / 1000).toFixed(1)} s; warm-up ${o.warmup} s, measuring ${o.seconds} s\n`);

  for (const c of bots) c.send({ cmd: 'go' });
  await sleep(o.warmup * 1000);

  // Window start.
  const s0 = await askServer();
  const w0 = process.hrtime.bigint();
  const srv0 = procCpu(server.pid);
  const bot0 = bots.map((c) => procCpu(c.pid));
  const m0 = machineCpu();
  for (const c of bots) c.send({ cmd: 'mark' });

  await sleep(o.seconds * 1000);

  // Window end.
  const reportsP = Promise.all(bots.map((c) => waitMessage(c, (m) => m && m.report, 'bots report', 30000)));
  for (const c of bots) c.send({ cmd: 'report' });
  const s1 = await askServer();
  const w1 = process.hrtime.bigint();
  const srv1 = procCpu(server.pid);
  const bot1 = bots.map((c) => procCpu(c.pid));
  const m1 = machineCpu();
  const load = readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/).slice(0, 3).map(Number);
  const reports = (await reportsP).map((m) => m.report);

  // Stop.
  for (const c of bots) { try { c.send({ cmd: 'stop' }); } catch {} }
  await Promise.race([Promise.all(bots.map((c) => new Promise((r) => c.once('exit', r)))), sleep(5000)]);
  try { server.send({ cmd: 'exit' }); } catch {}
  await Promise.race([new Promise((r) => server.once('exit', r)), sleep(3000)]);

  const secs = Number(w1 - w0) / 1e9;
  const serverCpuS = srv1 - srv0;
  const botsCpuS = bot1.reduce((a, v, i) => a + v - bot0[i], 0);
  const sent = s1.sent - s0.sent;
  const sentBytes = s1.sentBytes - s0.sentBytes;
  const recv = reports.reduce((a, r) => a + r.msgs, 0);
  const recvSecs = reports.reduce((a, r) => a + r.seconds, 0) / reports.length;
  const lat = mergeQuantiles(reports, reports[0].binMs);
  const machineBusyPct = 100 * (m1.busy - m0.busy) / (m1.total - m0.total) * (navigatorCores());
  const r2 = (v) => (v === null || v === undefined ? null : Math.round(v * 100) / 100);
  const r1 = (v) => (v === null || v === undefined ? null : Math.round(v * 10) / 10);

  const result = {
    server: 'colyseus',
    versions: versions(),
    node: process.version,
    patchMs: o.patchMs,
    players: joinedCount,
    rate: o.rate,
    seconds: r2(secs),
    botProcs: o.procs,
    serverCpuPct: r1(100 * serverCpuS / secs),
    serverCpuS: r2(serverCpuS),
    msgsPerS: Math.round(sent / secs),                 // server-side count
    clientMsgsPerS: Math.round(recv / recvSecs),      // client-side count
    bytesPerMsg: sent ? Math.round(sentBytes / sent) : null,
    usPerMsg: sent ? r2(1e6 * serverCpuS / sent) : null,
    usPerClientMsg: recv ? r2(1e6 * serverCpuS / recv) : null,
    patchesPerS: r1((s1.patches - s0.patches) / secs),
    movesPerS: r1((s1.moves - s0.moves) / secs),
    rejectedMoves: s1.rejected - s0.rejected,
    p50Ms: r1(lat.p50),
    p99Ms: r1(lat.p99),
    maxMs: r1(lat.max),
    latencySamples: lat.samples,
    botsCpuPct: r1(100 * botsCpuS / secs),
    machineBusyPct: r1(machineBusyPct),
    otherCpuPct: r1(machineBusyPct - 100 * (serverCpuS + botsCpuS) / secs),
    load,
    drops: reports.reduce((a, r) => a + r.drops + r.leaves + r.errors, 0),
  };

  if (o.json) {
    console.log(JSON.stringify(result));
  } else {
    const f = (v, d = 1) => (v === null ? 'n/a' : Number(v).toFixed(d));
    console.log(
      `colyseus ${result.versions.core} ws | patch ${o.patchMs} ms | ${result.players} players x ${o.rate}/s | ${f(secs)} s` +
      ` | server CPU ${f(result.serverCpuPct)}%` +
      ` | ${result.msgsPerS} msg/s sent (bots got ${result.clientMsgsPerS}/s, ${result.bytesPerMsg} B/msg)` +
      ` | ${f(result.usPerMsg, 2)} us/msg` +
      ` | move->others p50 ${f(result.p50Ms)} ms p99 ${f(result.p99Ms)} ms (n=${lat.samples})` +
      ` | bots CPU ${f(result.botsCpuPct)}% (${o.procs} procs)` +
      ` | machine busy ${f(result.machineBusyPct)}% (other ${f(result.otherCpuPct)}%) load ${load.join(' ')}` +
      (result.drops ? ` | WARNING ${result.drops} drops/leaves/errors` : '') +
      (result.rejectedMoves ? ` | ${result.rejectedMoves} moves rejected` : ''));
  }
  process.exit(0);
}

function navigatorCores() {
  // Number of CPUs in /proc/stat, so machine busy % is in "% of one core" like the others.
  return readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d+ /.test(l)).length;
}

function versions() {
  const v = (p) => { try { return JSON.parse(readFileSync(join(here, 'node_modules', p, 'package.json'), 'utf8')).version; } catch { return null; } };
  return {
    core: v('@colyseus/core'), wsTransport: v('@colyseus/ws-transport'),
    schema: v('@colyseus/schema'), sdk: v('@colyseus/sdk'), ws: v('ws'),
  };
}

main().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
