// End to end, spectators (docs/protocol.md, "Spectators"): a player plays a game; a
// second page opens the lobby, clicks "watch" beside that game, lands on the watch view
// (`/game/{id}/watch`), sees the board with the player on it, and sees the player's
// move arrive; the view has no player form, no controls, no chat line and no count of
// its own on the scoreboard, says it is
// watching and links to play; its socket is a spectator's, and it sends nothing (arrow
// keys, swipes); the lobby counts the spectator apart from the players. No console
// errors. Saves a screenshot of the watch view.
//
//   cargo xtask dist && (cd e2e && npm ci && node watch.mjs)
//
// Environment: see lib/harness.mjs; SCREENSHOT_WATCH (default e2e/out/screenshot-watch.png).

import { mkdirSync } from "node:fs";
import path from "node:path";
import {
  e2eDir,
  enter,
  fail,
  moveSomewhere,
  openPage,
  position,
  scenario,
  socketUrls,
  spiderOf,
  step,
  waitForSpiderAt,
  WAIT,
} from "./lib/harness.mjs";

const screenshot = process.env.SCREENSHOT_WATCH ?? path.join(e2eDir, "out", "screenshot-watch.png");
const WATCH_PAGE = /\/game\/([0-9a-f-]{36})\/watch$/;

/** The lobby row of game `id` on `page`. */
const row = (page, id) => page.locator(`#games li[data-game="${id}"]`);

await scenario(async ({ server: startServer, browser }) => {
  const server = await startServer();
  const base = server.base;
  const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
  const errors = [];

  // a player in a game of its own, created through the lobby API
  const created = await fetch(`${base}/api/games`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "Watched spiders" }),
  });
  if (created.status !== 201) fail(`creating a game answered ${created.status}`);
  const game = (await created.json()).id;
  const player = await openPage(context, `${base}/game/${game}`, errors, "Player");
  await enter(player, "Ana");
  step(`Ana plays game ${game}`);

  const watcher = await openPage(context, `${base}/`, errors, "Watcher", "#games");
  const watchLink = row(watcher, game).locator("a.watch");
  if ((await watchLink.getAttribute("href")) !== `/game/${game}/watch`) {
    fail(`the lobby's watch link is ${await watchLink.getAttribute("href")}`);
  }
  if ((await row(watcher, game).locator("a.play").getAttribute("href")) !== `/game/${game}`) {
    fail("the lobby's play link is not the game's page");
  }
  await watchLink.click();
  await watcher.waitForURL(WATCH_PAGE, { timeout: WAIT });
  await watcher.locator("#watching").waitFor({ timeout: WAIT });
  step(`the lobby shows "watch" beside "play"; clicking it opens ${watcher.url()}`);

  // the board, with Ana where she is
  await watcher.locator("#link.open").waitFor({ timeout: WAIT });
  await watcher.locator("svg.field").waitFor({ timeout: WAIT });
  await waitForSpiderAt(watcher, "Ana", await position(player));
  const bricks = await watcher.locator('svg.field use[href="#brick"]').count();
  const flies = await watcher.locator("svg.field g.fly-cell").count();
  if (bricks === 0 || flies === 0) fail(`the watch view draws ${bricks} bricks and ${flies} flies`);
  step(`the watch view draws the board (${bricks} bricks, ${flies} flies) and Ana on it`);

  const { cell } = await moveSomewhere(player);
  await waitForSpiderAt(watcher, "Ana", cell);
  step(`Ana moved to ${cell} and the watch view shows it`);

  // read-only: no form, no controls, no chat line; it says so and links to play
  for (const selector of ["#name", "#enter", "#leave", ".controls", "#chat-input", "button.pad", "#own-score"]) {
    const count = await watcher.locator(selector).count();
    if (count !== 0) fail(`the watch view has ${count} of ${selector}`);
  }
  if ((await watcher.locator("svg.field g.player.me").count()) !== 0) fail("the watch view draws a spider of its own");
  await watcher.locator("#watching .badge", { hasText: "Watching" }).waitFor({ timeout: WAIT });
  await watcher.locator(".chat").waitFor({ timeout: WAIT });
  const play = await watcher.locator("#play-link").getAttribute("href");
  if (play !== `/game/${game}`) fail(`the watch view links to play at ${play}`);
  step("no player form, no controls, no chat line; it says it is watching, and links to play the game");

  // its socket is a spectator's, and keys and swipes send nothing
  const urls = socketUrls(watcher);
  if (!urls.length || !urls.every((u) => u.endsWith(`/ws/game/${game}/watch`))) {
    fail(`the watch view opened ${urls.join(", ")}`);
  }
  await watcher.keyboard.press("ArrowRight");
  await watcher.keyboard.press("h");
  const field = await watcher.locator("svg.field").boundingBox();
  await watcher.mouse.move(field.x + 100, field.y + 100);
  await watcher.mouse.down();
  await watcher.mouse.move(field.x + 200, field.y + 100);
  await watcher.mouse.up();
  // one more move of Ana's proves the socket still open: a frame sent would have closed it
  const { cell: again } = await moveSomewhere(player);
  await waitForSpiderAt(watcher, "Ana", again);
  if ((await watcher.locator("#link.open").count()) !== 1) fail("the spectator's socket is not open");
  const last = (await watcher.locator("#last-sent").textContent()).trim();
  if (last !== "") fail(`the watch view sent ${last}`);
  step("its socket is the spectator's route; keys and swipes send nothing and it stays open");

  // the lobby counts the spectator apart
  const lobby = await openPage(context, `${base}/`, errors, "Lobby", "#games");
  await row(lobby, game).locator(".players", { hasText: /^1 player$/ }).waitFor({ timeout: WAIT });
  await row(lobby, game).locator(".spectators", { hasText: /^1 watching$/ }).waitFor({ timeout: WAIT });
  step("the lobby lists the game with 1 player and 1 watching");

  mkdirSync(path.dirname(screenshot), { recursive: true });
  await watcher.screenshot({ path: screenshot });
  step(`screenshot saved to ${screenshot}`);

  if (errors.length) fail(`the pages logged errors:\n  ${errors.join("\n  ")}`);
  step("no console errors");
});
