// End to end, many games: the server opens on the lobby; a player creates a game there
// and lands on its own address; a second page opens that link directly; both play and
// see each other; the lobby lists the game with 2 players, live; a second game does not
// show the first one's players; a game page leads back to the lobby, and the default
// game stays reachable. Also: the lobby works without script (the form posts, the server
// redirects), refuses a nameless game in words, and an unknown game's link says so.
// Saves a screenshot of the lobby.
//
//   cargo xtask dist && (cd e2e && npm ci && node lobby.mjs)
//
// Environment: see lib/harness.mjs; SCREENSHOT_LOBBY (default e2e/out/screenshot-lobby.png).

import { mkdirSync } from "node:fs";
import path from "node:path";
import {
  e2eDir,
  enter,
  fail,
  get,
  moveSomewhere,
  openPage,
  position,
  scenario,
  spiderOf,
  step,
  waitForSpiderAt,
  WAIT,
} from "./lib/harness.mjs";

const screenshot = process.env.SCREENSHOT_LOBBY ?? path.join(e2eDir, "out", "screenshot-lobby.png");
const GAME_PAGE = /\/game\/([0-9a-f-]{36})$/;

/** Creates a game named `name` from the lobby shown on `page`; resolves to its id once its page is open. */
async function createGame(page, name) {
  await page.locator("#game-name").fill(name);
  await page.locator("#create").click();
  await page.waitForURL(GAME_PAGE, { timeout: WAIT });
  await page.locator("#game-title", { hasText: name }).waitFor({ timeout: WAIT });
  return page.url().match(GAME_PAGE)[1];
}

/** The lobby row of game `id` on `page`. */
const row = (page, id) => page.locator(`#games li[data-game="${id}"]`);

/** Waits until the lobby on `page` lists game `id` with `count` players (the list refreshes itself). */
async function waitForPlayers(page, id, count) {
  const text = count === 1 ? "1 player" : `${count} players`;
  await row(page, id).locator(".players", { hasText: new RegExp(`^${text}$`) }).waitFor({ timeout: WAIT });
}

const openLobby = (context, base, errors, label) => openPage(context, `${base}/`, errors, label, "#games");

await scenario(async ({ server: startServer, browser }) => {
  const server = await startServer();
  const base = server.base;
  const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
  const errors = [];

  const alpha = await openLobby(context, base, errors, "Alpha");
  await alpha.locator("#games li .badge", { hasText: "default" }).waitFor({ timeout: WAIT });
  step("the server opens on the lobby, which lists the default game");

  const tableName = `Friday spiders ${Date.now() % 10_000}`;
  const table = await createGame(alpha, tableName);
  if (!(await alpha.title()).startsWith(tableName)) fail(`the game page's title is "${await alpha.title()}"`);
  step(`Alpha created "${tableName}" and is on its page ${alpha.url()}, titled after it`);

  const beta = await openPage(context, alpha.url(), errors, "Beta");
  await beta.locator("#game-title", { hasText: tableName }).waitFor({ timeout: WAIT });
  await enter(alpha, "Alpha");
  await enter(beta, "Beta");
  await spiderOf(alpha, "Beta").waitFor({ timeout: WAIT });
  await spiderOf(beta, "Alpha").waitFor({ timeout: WAIT });
  step("Beta opened the shared link directly; both entered and see each other");

  await waitForSpiderAt(beta, "Alpha", await position(alpha));
  const { cell: alphaAt } = await moveSomewhere(alpha);
  await waitForSpiderAt(beta, "Alpha", alphaAt);
  const { cell: betaAt } = await moveSomewhere(beta);
  await waitForSpiderAt(alpha, "Beta", betaAt);
  step(`both moved (Alpha to ${alphaAt}, Beta to ${betaAt}) and each sees the other's move`);

  const lobby = await openLobby(context, base, errors, "Lobby");
  await waitForPlayers(lobby, table, 2);
  const href = await row(lobby, table).locator("a.name").getAttribute("href");
  if (href !== `/game/${table}`) fail(`the lobby links the game to ${href}`);
  step("the lobby lists the game with 2 players and links to its page");

  const gamma = lobby;
  const other = await createGame(gamma, "Other table");
  if (other === table) fail("a second game got the first one's id");
  await enter(gamma, "Gamma");
  // a move in the first game after Gamma entered must not reach Gamma either
  const { cell: alphaAgain } = await moveSomewhere(alpha);
  await waitForSpiderAt(beta, "Alpha", alphaAgain);
  const drawn = await gamma.locator("svg.field g.player").count();
  if (drawn !== 1) fail(`Gamma's field draws ${drawn} spiders, expected only its own`);
  if ((await spiderOf(alpha, "Gamma").count()) !== 0) fail("Alpha's field draws Gamma, from another game");
  step("the second game draws none of the first one's players, nor they its");

  const watcher = await openLobby(context, base, errors, "Watcher");
  await waitForPlayers(watcher, other, 1);
  await gamma.locator("#to-lobby").click();
  await gamma.waitForURL(`${base}/`, { timeout: WAIT });
  await waitForPlayers(watcher, other, 0);
  await waitForPlayers(gamma, table, 2);
  await waitForPlayers(gamma, other, 0);
  step("from a game the link leads back to the lobby; an open lobby saw Gamma's game go from 1 player to 0");

  mkdirSync(path.dirname(screenshot), { recursive: true });
  await gamma.screenshot({ path: screenshot });
  step(`screenshot saved to ${screenshot}`);

  await gamma.locator("#games li", { has: gamma.locator(".badge") }).locator("a.name").click();
  await gamma.waitForURL(GAME_PAGE, { timeout: WAIT });
  await enter(gamma, "Delta");
  if ((await spiderOf(gamma, "Alpha").count()) !== 0) fail("the default game draws Alpha");
  step("the default game is reachable from the lobby and playable");

  // without script: the form alone creates a game, or says why not
  const plain = await browser.newContext({ javaScriptEnabled: false });
  const noScript = await plain.newPage();
  await noScript.goto(`${base}/`);
  await noScript.locator("#game-name").fill("   ");
  await noScript.locator("#game-name").evaluate((input) => input.removeAttribute("required"));
  await noScript.locator("#create").click();
  await noScript.locator("#refusal", { hasText: "name" }).waitFor({ timeout: WAIT });
  await noScript.locator("#game-name").fill("No script needed");
  await noScript.locator("#create").click();
  await noScript.waitForURL(GAME_PAGE, { timeout: WAIT });
  step("without script the lobby's form refuses a blank name in words, then creates a game and opens it");

  const unknown = await get(`${base}/game/00000000-0000-4000-8000-000000000000`);
  if (unknown.status !== 404 || !unknown.bytes.toString().includes("No such game")) {
    fail(`an unknown game's link answered ${unknown.status}`);
  }
  step("an unknown game's link answers 404, saying there is no such game");

  if (errors.length) fail(`the pages logged errors:\n  ${errors.join("\n  ")}`);
  step("no console errors");
});
