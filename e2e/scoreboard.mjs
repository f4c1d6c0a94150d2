// End to end: the scoreboard. A page walks its spider onto the nearest fly with the
// arrow keys; its own count shows the catch at once and the server confirms it ("Good
// catch!"); a second page lists the catcher among the top catchers, live. The server is
// killed and started again on the same data: the catcher, back in the game, still has
// its score, and a page that enters only now lists it.
//
//   cargo xtask dist && (cd e2e && npm ci && node scoreboard.mjs)
//
// Environment: see lib/harness.mjs.

import { catchFly, waitForTopCatcher } from "./lib/field.mjs";
import { WAIT, enter, fail, get, openPage, scenario, step } from "./lib/harness.mjs";

/**
 * Waits until `server` wrote every row handed to its store writer: its /metrics shows a
 * store backlog of 0. The room queues a catcher's row before it sends the score, so
 * once a page saw the score, an empty backlog means the row is on disk.
 */
async function waitForStoreWritten(server) {
  const deadline = Date.now() + WAIT;
  let seen;
  while (Date.now() < deadline) {
    const res = await get(`${server.base}/metrics`);
    seen = /^drapetisca_store_backlog (\S+)$/m.exec(res.bytes.toString())?.[1];
    if (seen === "0") return;
    await new Promise((r) => setTimeout(r, 50));
  }
  fail(`the store writer's backlog is ${seen ?? "not reported"}, not 0, after ${WAIT} ms`);
}

async function ownScore(page) {
  return Number(await page.locator("#own-score").innerText());
}

await scenario(async ({ server: startServer, browser }) => {
  const server = await startServer();
  const errors = [];
  const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
  const game = await server.defaultGame();
  const catcher = await openPage(context, game, errors, "Catcher");
  const watcher = await openPage(context, game, errors, "Watcher");
  await enter(catcher, "Catcher");
  await catcher.evaluate(() => document.activeElement?.blur());
  await enter(watcher, "Watcher");
  if ((await ownScore(catcher)) !== 0) fail("a new player starts with a score");

  const steps = await catchFly(catcher);
  if ((await ownScore(catcher)) !== 1) fail(`after the catch the page shows ${await ownScore(catcher)}`);
  step(`Catcher walked ${steps} steps onto a fly; its count showed 1 as soon as it was drawn on the fly`);
  await catcher.locator("#chat-lines li", { hasText: "Good catch!" }).waitFor({ timeout: WAIT });
  await waitForTopCatcher(catcher, "Catcher", 1);
  await waitForTopCatcher(watcher, "Catcher", 1);
  step("the server confirmed the catch; both pages list Catcher with 1");

  // the store is written behind the game: the kill comes once the catch is on disk
  await waitForStoreWritten(server);
  await server.kill();
  await catcher.locator("#link.retrying").waitFor({ timeout: WAIT });
  await server.start();
  await catcher.locator("#link.open").waitFor({ timeout: WAIT });
  await catcher.locator("svg.field g.player.me").waitFor({ timeout: WAIT });
  await waitForTopCatcher(catcher, "Catcher", 1);
  await catcher.waitForFunction(() => document.querySelector("#own-score").innerText === "1", null, {
    timeout: WAIT,
  });
  const late = await openPage(context, game, errors, "Late");
  await enter(late, "Late");
  await waitForTopCatcher(late, "Catcher", 1);
  step("after a restart Catcher still has 1, and a page entering now lists it");

  if (errors.length) fail(`the pages logged errors:\n  ${errors.join("\n  ")}`);
  step("no console errors");
});
