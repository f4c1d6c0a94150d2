// End to end: the replay page. Two pages play the default game: Alpha moves now and
// then, Beta says something in the chat; the moments between are noted. Then the
// lobby's "replay" link opens the game's replay, and the page shows each noted moment
// as it was: seeking there (in any order) draws Alpha on the cell it stood on then,
// and the chat line only from when it was said; playing at 1x moves Alpha on as it
// moved; pause stops time; a speed runs it that much faster; the address follows the
// moment, and the page's link to the moment (and the address) opens at that moment.
// No page logs an error. Saves a screenshot of the replay.
//
//   cargo xtask dist && (cd e2e && npm ci && node replay.mjs)
//
// Environment: see lib/harness.mjs; SCREENSHOT (default e2e/out/screenshot-replay.png).

import { mkdirSync } from "node:fs";
import path from "node:path";
import {
  e2eDir,
  enter,
  fail,
  get,
  moveSomewhere,
  openPage,
  scenario,
  spiderOf,
  step,
  waitForSpiderAt,
  WAIT,
} from "./lib/harness.mjs";

const screenshot = process.env.SCREENSHOT ?? path.join(e2eDir, "out", "screenshot-replay.png");
/** Quiet time around each noted moment, so that no update is near it. */
const QUIET_MS = 400;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The history's span of `game` (docs/protocol.md, "History"). */
async function span(base, game) {
  const res = await get(`${base}/api/games/${game}/history/span`);
  if (res.status !== 200) fail(`GET history/span: status ${res.status}`);
  return JSON.parse(res.bytes.toString());
}

/** The moment the replay page shows, once it shows it (not still loading). */
async function shownAt(page) {
  const controls = page.locator('.replay-controls[data-ready="true"]');
  await controls.waitFor({ timeout: WAIT });
  return Number(await controls.getAttribute("data-at"));
}

/** Waits until `page` shows moment `t`. */
async function waitShown(page, t) {
  await page.locator(`.replay-controls[data-ready="true"][data-at="${t}"]`).waitFor({ timeout: WAIT });
}

/** Drags the seek bar to `t`, as an input event of the range does, and waits until it is shown. */
async function seek(page, t) {
  await page.locator("#replay-seek").evaluate((input, t) => {
    input.value = String(t);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }, t);
  await waitShown(page, t);
}

/** Whether `page`'s chat shows `line`. */
async function chatShows(page, line) {
  return (await page.locator("#chat-lines li", { hasText: line }).count()) > 0;
}

await scenario(async ({ server: startServer, browser }) => {
  const server = await startServer();
  const base = server.base;
  const gameUrl = await server.defaultGame();
  const game = new URL(gameUrl).pathname.split("/")[2];
  const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
  const errors = [];
  const alpha = await openPage(context, gameUrl, errors, "Alpha");
  const beta = await openPage(context, gameUrl, errors, "Beta");
  await enter(alpha, "Alpha");
  await enter(beta, "Beta");
  await spiderOf(beta, "Alpha").waitFor({ timeout: WAIT });

  // play, noting quiet moments: where Alpha stood at each, and whether the line was said
  const line = `replay me ${Date.now()}`;
  const marks = [];
  let lastSent = 0;
  for (let i = 0; i < 4; i++) {
    lastSent = Date.now();
    const { cell } = await moveSomewhere(alpha);
    await sleep(QUIET_MS);
    marks.push({ t: Date.now(), cell, said: i >= 2 });
    await sleep(QUIET_MS);
    if (i === 1) {
      lastSent = Date.now();
      await beta.locator("#chat-input").fill(line);
      await beta.locator("#chat-input").press("Enter");
      await alpha.locator("#chat-lines li", { hasText: line }).waitFor({ timeout: WAIT });
      await sleep(QUIET_MS);
    }
  }
  // Beta moves last, so that the history goes on past the last noted moment
  lastSent = Date.now();
  await beta.evaluate(() => document.activeElement?.blur());
  await moveSomewhere(beta);
  step(`Alpha moved to ${marks.map((m) => `(${m.cell})`).join(", ")}; Beta chatted between the 2nd and 3rd`);

  // the history is written behind the game: wait until it holds the last move
  const deadline = Date.now() + WAIT;
  while ((await span(base, game)).last < lastSent) {
    if (Date.now() > deadline) fail(`the history's last record stays before ${lastSent}`);
    await sleep(100);
  }

  // the lobby links each game's replay
  const lobby = await openPage(context, `${base}/`, errors, "Lobby", "#games");
  await lobby.locator(`li[data-game="${game}"] a.replay`).click();
  await lobby.waitForURL(`**/game/${game}/replay`, { timeout: WAIT });
  const replay = lobby;
  const first = await shownAt(replay);
  const { first: spanFirst } = await span(base, game);
  if (first !== spanFirst) fail(`the replay opened at ${first}, not the history's start ${spanFirst}`);
  if (!new URL(replay.url()).search.includes(`t=${first}`)) fail(`the address ${replay.url()} does not name the moment`);
  step("the lobby's replay link opened the replay at the start of the history, and the address names it");

  // seek to each moment, out of order: Alpha where it stood, the line only once said
  for (const i of [3, 0, 1, 2]) {
    const { t, cell, said } = marks[i];
    await seek(replay, t);
    await waitForSpiderAt(replay, "Alpha", cell);
    await spiderOf(replay, "Beta").waitFor({ timeout: WAIT });
    if ((await chatShows(replay, line)) !== said) {
      fail(`at moment ${i} the chat ${said ? "lacks" : "already shows"} the line`);
    }
    if (!replay.url().endsWith(`?t=${t}`)) fail(`after a seek the address is ${replay.url()}, not ?t=${t}`);
  }
  step("seeking to each noted moment, in any order, shows Alpha where it was and the chat as it was");

  mkdirSync(path.dirname(screenshot), { recursive: true });
  await replay.waitForTimeout(300);
  await replay.screenshot({ path: screenshot });
  step(`screenshot saved to ${screenshot}`);

  // play at 1x from the first moment: Alpha moves on to where it stood at the second
  await seek(replay, marks[0].t);
  await replay.locator("#speed-1").click();
  await replay.locator("#replay-play").click();
  await replay.locator("#replay-play", { hasText: "Pause" }).waitFor({ timeout: WAIT });
  await waitForSpiderAt(replay, "Alpha", marks[1].cell);
  await replay.locator("#chat-lines li", { hasText: line }).waitFor({ timeout: WAIT });
  await replay.locator("#replay-play").click();
  const paused = await shownAt(replay);
  if (paused <= marks[1].t) fail(`playing reached ${paused}, not past the second moment ${marks[1].t}`);
  await sleep(600);
  if ((await shownAt(replay)) !== paused) fail("time ran on while paused");
  if (!replay.url().endsWith(`?t=${paused}`)) fail(`paused, the address is ${replay.url()}, not ?t=${paused}`);
  step("playing at 1x moved Alpha on and showed the line as said; pause stopped time, the address names the moment");

  // 2x: game time runs twice as fast as real time (generous bounds: a loaded machine)
  const end = (await span(base, game)).last;
  await seek(replay, first);
  await replay.locator("#speed-2").click();
  let started = Date.now();
  await replay.locator("#replay-play").click();
  await sleep(1_000);
  await replay.locator("#replay-play").click();
  const elapsed = Date.now() - started;
  const ran = (await shownAt(replay)) - first;
  if (end - first < elapsed * 2 + 500) fail(`the history (${end - first} ms) is too short to time 2x`);
  if (ran > elapsed * 2 + 300 || ran < elapsed * 2 * 0.4) fail(`at 2x, ${ran} ms of game ran in ${elapsed} ms`);
  step(`at 2x, ${ran} ms of the game ran in ${elapsed} ms`);

  // 16x: the whole history in a sixteenth of its time (and slack)
  await seek(replay, first);
  await replay.locator("#speed-16").click();
  started = Date.now();
  await replay.locator("#replay-play").click();
  await waitShown(replay, end);
  const took = Date.now() - started;
  if (took > ((end - first) / 16) * 3 + 1_000) fail(`at 16x, ${end - first} ms of game took ${took} ms`);
  await replay.locator("#replay-play").click();
  step(`at 16x, the whole ${end - first} ms of history played in ${took} ms`);

  // the page's link to the moment, and its address, open at that moment
  await seek(replay, marks[2].t);
  const link = await replay.locator("#replay-link").getAttribute("href");
  if (link !== `/game/${game}/replay?t=${marks[2].t}`) fail(`the link to the moment is ${link}`);
  const shared = await openPage(context, `${base}${link}`, errors, "Shared", ".replay-controls");
  await waitShown(shared, marks[2].t);
  await waitForSpiderAt(shared, "Alpha", marks[2].cell);
  await shared.locator("#chat-lines li", { hasText: line }).waitFor({ timeout: WAIT });
  step("the link to the moment opens the replay at that moment, Alpha in place and the line said");

  if (errors.length) fail(`the pages logged errors:\n  ${errors.join("\n  ")}`);
  step("no console errors");
});
