// What every end-to-end test shares: the release binary on a free port with its own data
// directory, headless Chromium, pages that record console errors and the frames their
// sockets receive, and the game's common gestures (enter, read one's position, move and
// wait for the server's echo).
//
// Environment: DRAPETISCA_BIN (default: $CARGO_TARGET_DIR or ../target, then
// release/drapetisca), CHROMIUM (default /usr/bin/chromium).

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const e2eDir = path.resolve(here, "..");
const root = path.resolve(e2eDir, "..");
const targetDir = path.resolve(root, process.env.CARGO_TARGET_DIR ?? "target");
const binary = process.env.DRAPETISCA_BIN ?? path.join(targetDir, "release", "drapetisca");
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
/** The name of the running test file, prefixed to every line it logs. */
const testName = path.basename(process.argv[1] ?? "e2e", ".mjs");

/** Logical size of one cell in the field's viewBox (frontend/src/components/field.rs). */
export const CELL = 20;
/** How long any one expectation may take: generous, for a loaded 2-core machine. */
export const WAIT = 15_000;

export function fail(message) {
  throw new Error(message);
}

export function step(message) {
  console.log(`e2e ${testName}: ${message}`);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** GET with `headers`, resolving to { status, headers, bytes } of the raw (undecoded) body. */
export function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, headers: res.headers, bytes: Buffer.concat(chunks) }),
        );
      })
      .on("error", reject);
  });
}

/** The release binary on a free port with a fresh data directory; `start` it again after a kill. */
class Server {
  constructor(port, dataDir) {
    this.port = port;
    this.dataDir = dataDir;
    this.base = `http://127.0.0.1:${port}`;
    this.child = undefined;
  }

  /** Starts the binary and waits until it answers /healthz. */
  async start() {
    step(`starting ${binary} on ${this.base}`);
    const args = ["--bind", `127.0.0.1:${this.port}`, "--data-dir", this.dataDir, "--log", "warn"];
    this.child = spawn(binary, args, { stdio: ["ignore", "inherit", "inherit"] });
    const deadline = Date.now() + WAIT;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) fail(`drapetisca exited with ${this.child.exitCode}`);
      try {
        const res = await get(`${this.base}/healthz`);
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    fail(`drapetisca did not answer on ${this.base} within ${WAIT} ms`);
  }

  /** The address of the default game's page, as the lobby API lists it. */
  async defaultGame() {
    const res = await get(`${this.base}/api/games`);
    if (res.status !== 200) fail(`GET /api/games: status ${res.status}`);
    const game = JSON.parse(res.bytes.toString()).games.find((g) => g.default);
    if (!game) fail("the lobby API lists no default game");
    return `${this.base}${game.path}`;
  }

  /** Kills the server at once (SIGKILL) and waits until it is gone. */
  async kill() {
    const died = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGKILL");
    await died;
  }
}

/**
 * Runs `test` with a helper to start servers and a headless Chromium, then cleans up
 * whatever it started; a failure prints why and exits 1.
 *
 * `test({ server, browser })`: `await server()` is a started Server; `browser` is a
 * playwright Browser (new contexts: `browser.newContext({ viewport, ... })`).
 */
export async function scenario(test) {
  const cleanups = [];
  try {
    if (!existsSync(binary)) fail(`${binary} is missing; run \`cargo xtask dist\` first`);
    if (!existsSync(browserPath)) {
      fail(`${browserPath} is missing; install Debian's chromium (apt-get install chromium)`);
    }
    const server = async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), "drapetisca-e2e-data-"));
      const started = new Server(await freePort(), dataDir);
      cleanups.push(() => {
        started.child?.kill("SIGTERM");
        rmSync(dataDir, { recursive: true, force: true });
      });
      await started.start();
      return started;
    };
    const browser = await chromium.launch({
      executablePath: browserPath,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    cleanups.push(() => browser.close().catch(() => {}));
    await test({ server, browser });
    step("passed");
  } catch (err) {
    console.error(`e2e ${testName}: FAILED: ${err.message}`);
    process.exitCode = 1;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

/** Frames each page's sockets received, as { url, text }, oldest first. */
const received = new WeakMap();
/** The address of every WebSocket each page opened, oldest first. */
const opened = new WeakMap();

/**
 * A page of `context` at `url` that records console errors and uncaught exceptions into
 * `errors`, labelled `label`, and every frame its sockets receive; resolves once
 * `ready` (a selector: by default the game page's root) is on the page.
 */
export async function openPage(context, url, errors, label, ready = ".app") {
  const page = await context.newPage();
  const frames = [];
  received.set(page, frames);
  const urls = [];
  opened.set(page, urls);
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`${label} console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => errors.push(`${label} exception: ${err.message}`));
  page.on("websocket", (ws) => {
    urls.push(ws.url());
    ws.on("framereceived", ({ payload }) => frames.push({ url: ws.url(), text: String(payload) }));
  });
  await page.goto(url);
  await page.locator(ready).waitFor({ timeout: WAIT });
  return page;
}

/** Resolves once `page` has run its pending work and painted the next frame. */
export async function nextFrame(page) {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));
}

/** Enters the game as `name`; `click` presses a button (a tap on a phone). */
export async function enter(page, name, click = (locator) => locator.click()) {
  await page.locator("#name").fill(name);
  await click(page.locator("#enter"));
  await page.locator("#link.open").waitFor({ timeout: WAIT });
  await page.locator("svg.field g.player.me").waitFor({ timeout: WAIT });
}

/** The page's own player id. */
export async function playerId(page) {
  return (await page.locator(".player-id code").textContent()).trim();
}

/** The (x, y) of the position readout. */
export async function position(page) {
  const text = await page.locator("#position").innerText();
  const m = text.match(/^\((\d+), (\d+)\)/) ?? fail(`unexpected readout ${JSON.stringify(text)}`);
  return [Number(m[1]), Number(m[2])];
}

/** The spider group named `name` on `page`. */
export function spiderOf(page, name) {
  return page.locator("svg.field g.player", {
    has: page.locator("text.name", { hasText: new RegExp(`^${name}$`) }),
  });
}

/** The address of every WebSocket `page` opened so far, oldest first. */
export function socketUrls(page) {
  return opened.get(page) ?? fail("the page was not opened with openPage");
}

/**
 * Every message `page` received so far, as { url, text, json }, oldest first. On the one
 * socket (docs/protocol.md) a world batch is a JSON array, a direct reply an object.
 */
export function messages(page) {
  const frames = received.get(page) ?? fail("the page was not opened with openPage");
  return frames.map(({ url, text }) => ({ url, text, json: JSON.parse(text) }));
}

/** Waits until `page` draws the spider named `name` on cell (x, y). */
export async function waitForSpiderAt(page, name, [x, y]) {
  const expected = `translate(${x * CELL + CELL / 2}px, ${y * CELL + CELL / 2}px)`;
  const deadline = Date.now() + WAIT;
  let seen;
  while (Date.now() < deadline) {
    seen = await spiderOf(page, name).evaluate((g) => g.style.transform).catch(() => undefined);
    if (seen === expected) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  fail(`${name} is drawn at ${seen}, expected ${expected}`);
}

/**
 * Waits until `page` received the server's answer to its move of generation
 * `generation`: the move's echo in a world batch, or the position it was snapped
 * back to in a direct reply (protocol.md: a refusal keeps the generation).
 */
export async function waitForEcho(page, generation) {
  const me = await playerId(page);
  const frames = received.get(page) ?? fail("the page was not opened with openPage");
  const deadline = Date.now() + WAIT;
  while (Date.now() < deadline) {
    const answered = frames.some(({ text }) => {
      try {
        // the page reads the batched world stream: a message may be an array of frames
        return [JSON.parse(text)].flat().some(
          (frame) =>
            frame.messageType === "player" &&
            frame.playerID === me &&
            frame.payload?.generation === generation,
        );
      } catch {
        return false;
      }
    });
    if (answered) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  fail(`no answer from the server to move generation ${generation} within ${WAIT} ms`);
}

/** The four directions, in the order moves are tried. */
export const DIRECTIONS = ["right", "down", "left", "up"];

/** Presses an arrow key: the default way to move in `moveSomewhere`. */
export const arrowKey = (page, direction) =>
  page.keyboard.press(`Arrow${direction[0].toUpperCase()}${direction.slice(1)}`);

/**
 * Tries each direction with `move(page, direction)` until the spider moves and the
 * server confirmed the move; returns { cell, direction }. A direction the page refuses
 * itself (a brick, the edge, another spider) sends nothing and the next is tried.
 */
export async function moveSomewhere(page, move = arrowKey) {
  for (const direction of DIRECTIONS) {
    const before = await position(page);
    const sentBefore = await page.locator("#last-sent").textContent();
    await move(page, direction);
    await nextFrame(page);
    const sent = await page.locator("#last-sent").textContent();
    if (sent === sentBefore) continue;
    const frame = JSON.parse(sent);
    if (frame.messageType !== "player") fail(`a move sent ${sent}`);
    await waitForEcho(page, frame.payload.generation);
    const after = await position(page);
    if (after[0] !== before[0] || after[1] !== before[1]) return { cell: after, direction };
  }
  fail(`the spider at ${await position(page)} could not move in any direction`);
}

/** The direction opposite `direction`. */
export function opposite(direction) {
  return { right: "left", left: "right", up: "down", down: "up" }[direction];
}
