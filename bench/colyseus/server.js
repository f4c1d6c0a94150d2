#!/usr/bin/env node
// Colyseus comparison server: one room with Drapetisca's game shape.
//
// The state is a board (width x height) and a map of players, each with x, y,
// h (hearts shown), name and generation (the client's move counter), which is
// what a Drapetisca player update carries. A client sends "move"
// {x, y, h, generation}; the room accepts it when it is one king's step (or no
// step) from where the player stands and inside the board, and writes it into
// the schema state. Colyseus then sends the state's changes to every client
// once per patch interval (`patchRate`): one WebSocket message per client per
// patch that has changes.
//
// Usage: node server.js [--port 2567] [--patch-ms 50] [--width 39] [--height 23]
// Env:   PORT, PATCH_MS, BOARD_W, BOARD_H (the arguments win).
//
// When started by run.mjs (with an IPC channel), it creates the room itself
// (so every bot joins the same room by id), reports {ready, roomId}, and answers
// {cmd: "stats"} with counters: WebSocket messages it sent, moves applied and
// moves rejected.
'use strict';

const { Server, Room, matchMaker } = require('@colyseus/core');
const { WebSocketTransport, WebSocketClient } = require('@colyseus/ws-transport');
const { schema, t, MapSchema } = require('@colyseus/schema');

function arg(name, env, def) {
  const i = process.argv.indexOf(name);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (env && process.env[env] !== undefined) return process.env[env];
  return def;
}

const PORT = Number(arg('--port', 'PORT', 2567));
const PATCH_MS = Number(arg('--patch-ms', 'PATCH_MS', 50));
// Drapetisca's standard board is 39 x 23 cells (protocol/src/board.rs).
const BOARD_W = Number(arg('--width', 'BOARD_W', 39));
const BOARD_H = Number(arg('--height', 'BOARD_H', 23));

const Player = schema({
  x: t.int16(),
  y: t.int16(),
  h: t.boolean(),
  name: t.string(),
  generation: t.int32(),
}, 'Player');

const GameState = schema({
  width: t.uint8(),
  height: t.uint8(),
  players: t.map(Player),
}, 'GameState');

// Counters read over IPC. `sent` counts every WebSocket message the transport
// writes (patches, join handshakes, full states, errors); `patchesSent` only
// the state patches.
const counters = { sent: 0, sentBytes: 0, moves: 0, rejected: 0, joins: 0, leaves: 0, patches: 0 };

// Count at the transport's single write path (one ws.send per call).
const origRaw = WebSocketClient.prototype.raw;
WebSocketClient.prototype.raw = function (data, options, cb) {
  counters.sent++;
  counters.sentBytes += data.byteLength;
  return origRaw.call(this, data, options, cb);
};

class GameRoom extends Room {
  maxClients = 10000;
  autoDispose = false;
  patchRate = PATCH_MS;
  state = new GameState();

  onCreate() {
    this.state.width = BOARD_W;
    this.state.height = BOARD_H;
  }

  messages = {
    move(client, m) {
      const p = this.state.players.get(client.sessionId);
      if (!p || m == null || typeof m !== 'object') { counters.rejected++; return; }
      const { x, y, h, generation } = m;
      if (!Number.isInteger(x) || !Number.isInteger(y) || !Number.isInteger(generation)) {
        counters.rejected++; return;
      }
      // One king's step (or none), inside the board.
      if (Math.abs(x - p.x) > 1 || Math.abs(y - p.y) > 1 ||
          x < 0 || y < 0 || x >= BOARD_W || y >= BOARD_H) {
        counters.rejected++; return;
      }
      p.x = x;
      p.y = y;
      p.h = !!h;
      p.generation = generation;
      counters.moves++;
    },
  };

  onJoin(client, options) {
    const p = new Player();
    // Start where Drapetisca starts a player with no known position: the centre.
    p.x = (BOARD_W - 1) >> 1;
    p.y = (BOARD_H - 1) >> 1;
    p.h = false;
    p.name = String((options && options.name) || 'bot').slice(0, 32);
    p.generation = 0;
    this.state.players.set(client.sessionId, p);
    counters.joins++;
  }

  onLeave(client) {
    this.state.players.delete(client.sessionId);
    counters.leaves++;
  }

  broadcastPatch() {
    const changed = super.broadcastPatch();
    if (changed) counters.patches++;
    return changed;
  }
}

async function main() {
  const server = new Server({
    greet: false,
    gracefullyShutdown: false,
    transport: new WebSocketTransport({ pingInterval: 3000 }),
  });
  server.define('game', GameRoom);
  await server.listen(PORT, '127.0.0.1');
  const room = await matchMaker.createRoom('game', {});
  const info = { ready: true, roomId: room.roomId, port: PORT, patchMs: PATCH_MS, width: BOARD_W, height: BOARD_H, pid: process.pid };
  if (process.send) {
    process.on('message', (msg) => {
      if (msg && msg.cmd === 'stats') process.send({ stats: { ...counters } });
      else if (msg && msg.cmd === 'exit') process.exit(0);
    });
    process.on('disconnect', () => process.exit(0));
    process.send(info);
  } else {
    console.log(JSON.stringify(info));
  }
}

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

main().catch((e) => { console.error(e); process.exit(1); });
