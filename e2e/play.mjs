// End to end: the release binary serves the game, two headless Chromium pages enter,
// see each other, move, chat and show hearts; no page logs an error. Also checks that
// the page (wasm + js + css) transfers at most 120 KB gzipped, and saves a screenshot.
//
//   cargo xtask dist && (cd e2e && npm ci && node play.mjs)
//
// Environment: DRAPETISCA_BIN (default: $CARGO_TARGET_DIR or ../target, then
// release/drapetisca), CHROMIUM (default /usr/bin/chromium), SCREENSHOT (default
// e2e/out/screenshot.png).

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const targetDir = path.resolve(root, process.env.CARGO_TARGET_DIR ?? "target");
const binary = process.env.DRAPETISCA_BIN ?? path.join(targetDir, "release", "drapetisca");
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const screenshot = process.env.SCREENSHOT ?? path.join(here, "out", "screenshot.png");
/** The ceiling for what a player downloads, gzipped (the reference client: ~53 KB). */
const PAGE_BUDGET = 120 * 1024;
const CELL = 20;
const WAIT = 15_000;

function fail(message) {
  throw new Error(message);
}

function step(message) {
  console.log(`e2e: ${message}`);
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
function get(url, headers = {}) {
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

async function waitForServer(base, server) {
  const deadline = Date.now() + WAIT;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) fail(`drapetisca exited with ${server.exitCode}`);
    try {
      const res = await get(`${base}/healthz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  fail(`drapetisca did not answer on ${base} within ${WAIT} ms`);
}

/** Sums the gzipped transfer of the page's js, wasm and css, as a browser gets them. */
async function pageWeight(base) {
  const index = await get(`${base}/`);
  const html = index.bytes.toString();
  if (!html.includes("_bg.wasm")) {
    fail("the binary serves no game page: it was built without the frontend; run `cargo xtask dist`");
  }
  const files = [...html.matchAll(/(?:href|from|module_or_path:)\s*=?\s*['"](\/[^'"]+\.(?:js|wasm|css))['"]/g)]
    .map((m) => m[1])
    .filter((f, i, all) => all.indexOf(f) === i);
  if (!files.some((f) => f.endsWith(".wasm")) || !files.some((f) => f.endsWith(".js"))) {
    fail(`could not find the bundle's files in index.html: ${files}`);
  }
  let total = 0;
  for (const file of files) {
    const res = await get(`${base}${file}`, { "accept-encoding": "gzip" });
    if (res.status !== 200) fail(`${file}: status ${res.status}`);
    if (res.headers["content-encoding"] !== "gzip") fail(`${file} was not sent gzipped`);
    if (!/immutable/.test(res.headers["cache-control"] ?? "")) fail(`${file} is not cached as immutable`);
    step(`  ${file}: ${res.bytes.length} bytes gzipped (${res.headers["content-type"]})`);
    total += res.bytes.length;
  }
  return total;
}

/** A page that records console errors and uncaught exceptions into `errors`. */
async function openPage(context, base, errors, label) {
  const page = await context.newPage();
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`${label} console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => errors.push(`${label} exception: ${err.message}`));
  await page.goto(base);
  await page.locator("#enter").waitFor({ timeout: WAIT });
  return page;
}

async function enter(page, name) {
  await page.locator("#name").fill(name);
  await page.locator("#enter").click();
  await page.locator("#link.open").waitFor({ timeout: WAIT });
  await page.locator("svg.field g.player.me").waitFor({ timeout: WAIT });
}

/** The (x, y) of the position readout. */
async function position(page) {
  const text = await page.locator("#position").innerText();
  const m = text.match(/^\((\d+), (\d+)\)/) ?? fail(`unexpected readout ${JSON.stringify(text)}`);
  return [Number(m[1]), Number(m[2])];
}

/** The spider group named `name` on `page`. */
function spiderOf(page, name) {
  return page.locator("svg.field g.player", {
    has: page.locator("text.name", { hasText: new RegExp(`^${name}$`) }),
  });
}

/** Waits until `page` draws the spider named `name` on cell (x, y). */
async function waitForSpiderAt(page, name, [x, y]) {
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

/** Presses arrows on `page` until its spider moves; returns the new cell. */
async function moveSomewhere(page) {
  const before = await position(page);
  for (const key of ["ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp"]) {
    await page.keyboard.press(key);
    await page.waitForTimeout(150);
    const after = await position(page);
    if (after[0] !== before[0] || after[1] !== before[1]) return after;
  }
  fail(`the spider at ${before} could not move in any direction`);
}

async function main() {
  if (!existsSync(binary)) fail(`${binary} is missing; run \`cargo xtask dist\` first`);
  if (!existsSync(browserPath)) fail(`${browserPath} is missing; install Debian's chromium (apt-get install chromium)`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), "drapetisca-e2e-data-"));
  const profile = mkdtempSync(path.join(tmpdir(), "drapetisca-e2e-chromium-"));
  const start = () => {
    step(`starting ${binary} on ${base}`);
    return spawn(binary, ["--bind", `127.0.0.1:${port}`, "--data-dir", dataDir, "--log", "warn"], {
      stdio: ["ignore", "inherit", "inherit"],
    });
  };
  let server = start();
  let context;
  try {
    await waitForServer(base, server);

    const weight = await pageWeight(base);
    step(`page weight: ${weight} bytes gzipped (${(weight / 1024).toFixed(1)} KB; budget ${PAGE_BUDGET / 1024} KB)`);
    if (weight > PAGE_BUDGET) fail(`the page weighs ${weight} bytes gzipped, over the ${PAGE_BUDGET} budget`);

    context = await chromium.launchPersistentContext(profile, {
      executablePath: browserPath,
      headless: true,
      viewport: { width: 1280, height: 760 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const errors = [];
    const alpha = await openPage(context, base, errors, "Alpha");
    const beta = await openPage(context, base, errors, "Beta");

    step("two pages enter");
    await enter(alpha, "Alpha");
    await enter(beta, "Beta");
    await spiderOf(alpha, "Beta").waitFor({ timeout: WAIT });
    await spiderOf(beta, "Alpha").waitFor({ timeout: WAIT });
    step("each sees the other's name on the field");

    await waitForSpiderAt(beta, "Alpha", await position(alpha));
    const moved = await moveSomewhere(alpha);
    await waitForSpiderAt(beta, "Alpha", moved);
    await waitForSpiderAt(alpha, "Alpha", moved);
    step(`Alpha moved with the arrow keys to ${moved}; Beta sees it there`);

    const line = `hello from Alpha ${Date.now()}`;
    await alpha.locator("#chat-input").fill(line);
    await alpha.locator("#chat-input").press("Enter");
    await beta.locator("#chat-lines li", { hasText: line }).waitFor({ timeout: WAIT });
    await alpha.locator("#chat-lines li .who.own", { hasText: "Alpha" }).waitFor({ timeout: WAIT });
    step("the chat line arrived, and Alpha's own name is highlighted");

    await beta.locator("#chat-input").fill("hi Alpha, nice legs");
    await beta.locator("#chat-input").press("Enter");
    await alpha.evaluate(() => document.activeElement?.blur());
    await alpha.keyboard.press("h");
    await spiderOf(beta, "Alpha").locator(".hearts").waitFor({ timeout: WAIT });
    step("H shows hearts over Alpha on Beta's page");

    mkdirSync(path.dirname(screenshot), { recursive: true });
    await beta.evaluate(() => document.activeElement?.blur());
    await beta.waitForTimeout(300);
    await beta.screenshot({ path: screenshot });
    step(`screenshot saved to ${screenshot}`);

    step("the server dies");
    const died = new Promise((resolve) => server.once("exit", resolve));
    server.kill("SIGKILL");
    await died;
    await alpha.locator("#link.retrying").waitFor({ timeout: WAIT });
    await beta.locator("#link.retrying").waitFor({ timeout: WAIT });
    step("both pages show the lost connection and retry");
    server = start();
    await waitForServer(base, server);
    await alpha.locator("#link.open").waitFor({ timeout: WAIT });
    await beta.locator("#link.open").waitFor({ timeout: WAIT });
    await spiderOf(alpha, "Beta").waitFor({ timeout: WAIT });
    await spiderOf(beta, "Alpha").waitFor({ timeout: WAIT });
    await waitForSpiderAt(beta, "Alpha", await position(alpha));
    step("after the restart both re-entered and see each other again");

    await alpha.locator("#leave").click();
    await spiderOf(beta, "Alpha").waitFor({ state: "detached", timeout: WAIT });
    await alpha.locator("#link.offline").waitFor({ timeout: WAIT });
    step("Alpha left; Beta no longer draws Alpha");

    if (errors.length) fail(`the pages logged errors:\n  ${errors.join("\n  ")}`);
    step("no console errors");
    step("passed");
  } finally {
    await context?.close().catch(() => {});
    server.kill("SIGTERM");
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`e2e: FAILED: ${err.message}`);
  process.exit(1);
});
