// End to end, accessibility: axe-core (the accessibility engine browsers' dev tools use)
// finds no WCAG 2 A/AA violation on a game before entering, in play on a desktop and on
// a phone, on the watch view, on the replay, and on the lobby (desktop and phone): every control labelled, enough contrast, valid ARIA. Keyboard
// focus is visible on every control Tab reaches, and the link status and the chat are
// live regions that screen readers announce.
//
//   cargo xtask dist && (cd e2e && npm ci && node a11y.mjs)
//
// Environment: see lib/harness.mjs.

import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { enter, fail, get, openPage, scenario, step, WAIT } from "./lib/harness.mjs";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** Fails with axe's findings if `page` violates a WCAG 2 A or AA rule. */
async function audit(page, what) {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    });
    return result.violations.map((v) => ({
      id: v.id,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => `${n.target.join(" ")}: ${n.failureSummary.replace(/\s+/g, " ")}`),
    }));
  });
  if (violations.length) {
    const lines = violations.map((v) => `${v.id} (${v.help}):\n      ${v.nodes.join("\n      ")}`);
    fail(`${what}: ${violations.length} accessibility violations:\n    ${lines.join("\n    ")}`);
  }
  step(`${what}: no WCAG 2 A/AA violations`);
}

/**
 * Tabs through `page` and fails unless every control that takes focus shows an outline,
 * and Tab reaches at least `atLeast` of them.
 */
async function focusIsVisible(page, what, atLeast = 3) {
  await page.evaluate(() => document.activeElement?.blur());
  const seen = new Set();
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const style = getComputedStyle(el);
      return {
        id: el.id || el.getAttribute("aria-label") || el.textContent.trim().slice(0, 20),
        outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
      };
    });
    if (!focused || seen.has(focused.id)) break;
    seen.add(focused.id);
    if (!focused.outline) fail(`${what}: keyboard focus on ${focused.id} shows no outline`);
  }
  if (seen.size < atLeast) fail(`${what}: Tab reached only ${[...seen].join(", ")}`);
  step(`${what}: keyboard focus is visible on ${seen.size} controls`);
}

await scenario(async ({ server: startServer, browser }) => {
  const server = await startServer();
  const errors = [];
  const desk = await browser.newContext({ viewport: { width: 1280, height: 760 } });

  const game = await server.defaultGame();
  const page = await openPage(desk, game, errors, "Desk");
  await audit(page, "a game before entering");
  await focusIsVisible(page, "a game before entering");
  await enter(page, "Reader");
  const line = "can you hear me";
  await page.locator("#chat-input").fill(line);
  await page.locator("#chat-input").press("Enter");
  await page.locator("#chat-lines li", { hasText: line }).waitFor({ timeout: WAIT });
  await audit(page, "a game in play");

  const live = await page.evaluate(() => ({
    link: document.querySelector("#link")?.getAttribute("role"),
    chat: document.querySelector("#chat-lines")?.getAttribute("aria-live"),
  }));
  if (live.link !== "status") fail(`the link status is not a live region (role ${live.link})`);
  if (live.chat !== "polite") fail(`the chat is not a live region (aria-live ${live.chat})`);
  step("the link status and the chat are live regions");

  const phone = await browser.newContext({ viewport: { width: 360, height: 640 }, isMobile: true, hasTouch: true });
  const small = await openPage(phone, game, errors, "Phone");
  await enter(small, "Thumb", (button) => button.tap());
  await audit(small, "a game in play on a phone");

  // the watch view of the same game, the players above on its field
  const watching = await openPage(desk, `${game}/watch`, errors, "Watcher", "#watching");
  await watching.locator("#link.open").waitFor({ timeout: WAIT });
  await watching.locator("svg.field g.player").first().waitFor({ timeout: WAIT });
  await audit(watching, "the watch view");
  // its only controls: the lobby and the play links
  await focusIsVisible(watching, "the watch view", 2);

  // the replay of the same game at its latest moment, its players on the field (the
  // page opens at the history's start, before anyone entered)
  const res = await get(`${game.replace("/game/", "/api/games/")}/history/span`);
  if (res.status !== 200) fail(`GET history/span: status ${res.status}`);
  const { last } = JSON.parse(res.bytes.toString());
  const replay = await openPage(desk, `${game}/replay?t=${last}`, errors, "Replay", ".replay-controls");
  await replay.locator('.replay-controls[data-ready="true"]').waitFor({ timeout: WAIT });
  await replay.locator("svg.field g.player").first().waitFor({ timeout: WAIT });
  await audit(replay, "the replay");
  // its controls: the lobby link, play, speed, the seek bar, the link to the moment
  await focusIsVisible(replay, "the replay");

  const lobby = await openPage(desk, server.base, errors, "Lobby", "#games");
  await audit(lobby, "the lobby");
  await focusIsVisible(lobby, "the lobby");
  const lobbyOnPhone = await openPage(phone, server.base, errors, "Lobby on a phone", "#games");
  await audit(lobbyOnPhone, "the lobby on a phone");

  if (errors.length) fail(`the pages logged errors:\n  ${errors.join("\n  ")}`);
  step("no console errors");
});
