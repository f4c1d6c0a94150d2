// End to end on a phone: a 360x640 portrait page with touch (headless Chromium's mobile
// emulation) enters by tapping, sees the field across the screen's width with no
// sideways scroll, moves by tapping the arrows and by swiping the field, and a desktop
// page sees it move. Nothing overlaps: not the welcome picture over the form, not the
// status bar over the chat. Saves a screenshot.
//
//   cargo xtask dist && (cd e2e && npm ci && node phone.mjs)
//
// Environment: see lib/harness.mjs; SCREENSHOT_PHONE (default e2e/out/screenshot-phone.png).

import { mkdirSync } from "node:fs";
import path from "node:path";
import { catchFly, waitForTopCatcher } from "./lib/field.mjs";
import {
  e2eDir,
  enter,
  fail,
  moveSomewhere,
  nextFrame,
  openPage,
  opposite,
  position,
  scenario,
  spiderOf,
  step,
  waitForSpiderAt,
  WAIT,
} from "./lib/harness.mjs";

const screenshot = process.env.SCREENSHOT_PHONE ?? path.join(e2eDir, "out", "screenshot-phone.png");
const PHONE = { width: 360, height: 640 };
/** The smallest touch target the platform guidelines allow (Apple 44 pt, Android 48 dp). */
const MIN_TARGET = 44;

/** The bounding box of `locator`, failing if it is not rendered. */
async function box(locator, what) {
  return (await locator.boundingBox()) ?? fail(`${what} is not rendered`);
}

function overlap(a, b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** Fails if the page scrolls sideways. */
async function noSidewaysScroll(page, when) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
  }));
  if (scroll > width) fail(`${when}, the page is ${scroll} px wide in a ${width} px screen`);
}

/** Taps the on-screen arrow for `direction`. */
const tapArrow = (page, direction) => page.locator(`button[aria-label="move ${direction}"]`).tap();

/** Swipes a finger across the middle of the field towards `direction`. */
async function swipe(page, direction) {
  const field = await box(page.locator("svg.field"), "the field");
  const [dx, dy] = { right: [1, 0], left: [-1, 0], down: [0, 1], up: [0, -1] }[direction];
  const from = { x: field.x + field.width / 2, y: field.y + field.height / 2 };
  const cdp = await page.context().newCDPSession(page);
  const touch = (type, f) =>
    cdp.send("Input.dispatchTouchEvent", {
      type,
      touchPoints: type === "touchEnd" ? [] : [{ x: from.x + dx * 60 * f, y: from.y + dy * 60 * f }],
    });
  await touch("touchStart", 0);
  for (const f of [0.25, 0.5, 0.75, 1]) await touch("touchMove", f);
  await touch("touchEnd", 1);
  await cdp.detach();
}

await scenario(async ({ server: startServer, browser }) => {
  const server = await startServer();
  const errors = [];
  const phone = await browser.newContext({
    viewport: PHONE,
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  const game = await server.defaultGame();
  const page = await openPage(phone, game, errors, "Phone");
  const desk = await browser.newContext({ viewport: { width: 1280, height: 760 } });
  const watcher = await openPage(desk, game, errors, "Desk");

  if (!(await page.evaluate(() => matchMedia("(pointer: coarse)").matches))) {
    fail("the emulated phone does not report a coarse pointer");
  }
  await noSidewaysScroll(page, "before entering");
  const picture = await box(page.locator(".welcome-spider"), "the welcome picture");
  for (const [what, selector] of [["the Leave button", "#leave"], ["the player id", ".player-id"], ["the Enter button", "#enter"]]) {
    if (overlap(picture, await box(page.locator(selector), what))) fail(`the welcome picture overlaps ${what}`);
  }
  step("before entering: no sideways scroll, the welcome picture overlaps nothing");

  await enter(watcher, "Desk");
  await enter(page, "Thumb", (button) => button.tap());
  step("the phone entered with a tap");

  const field = await box(page.locator("svg.field"), "the field");
  if (field.width < PHONE.width * 0.95) fail(`the field is ${field.width} px wide on a ${PHONE.width} px screen`);
  if (field.height < 150) fail(`the field is only ${field.height} px high`);
  const me = await box(page.locator("svg.field g.player.me"), "the phone's own spider");
  if (!overlap(me, field) || me.width < 4) fail(`the own spider is not drawn inside the field: ${JSON.stringify(me)}`);
  await noSidewaysScroll(page, "in play");
  step(`the field spans the screen: ${Math.round(field.width)}x${Math.round(field.height)} px`);

  for (const direction of ["up", "down", "left", "right"]) {
    const arrow = page.locator(`button[aria-label="move ${direction}"]`);
    const pad = await box(arrow, `the ${direction} arrow`);
    if (pad.width < MIN_TARGET || pad.height < MIN_TARGET) {
      fail(`the ${direction} arrow is ${pad.width}x${pad.height} px, under ${MIN_TARGET} px`);
    }
    if (pad.y + pad.height > PHONE.height) fail(`the ${direction} arrow is below the screen's fold`);
    if (overlap(pad, field)) fail(`the ${direction} arrow covers the field`);
    const touchAction = await arrow.evaluate((b) => getComputedStyle(b).touchAction);
    if (touchAction !== "manipulation") fail(`the arrows' touch-action is ${touchAction}: taps would wait for a double-tap`);
  }
  step("field and arrows fit on the first screen; the arrows are thumb-sized and act on the first tap");

  await waitForSpiderAt(watcher, "Thumb", await position(page));
  const tapped = await moveSomewhere(page, tapArrow);
  await waitForSpiderAt(watcher, "Thumb", tapped.cell);
  step(`a tap on "move ${tapped.direction}" moved the phone's spider to ${tapped.cell}; the desktop sees it`);

  // two quick taps: the first must act at once, and the page must not zoom
  const back = page.locator(`button[aria-label="move ${opposite(tapped.direction)}"]`);
  await back.tap();
  await back.tap();
  await nextFrame(page);
  const scale = await page.evaluate(() => window.visualViewport.scale);
  if (scale !== 1) fail(`two quick taps zoomed the page to ${scale}`);
  const [x, y] = await position(page);
  if (x === tapped.cell[0] && y === tapped.cell[1]) fail("the first of two quick taps did not move the spider");
  step("two quick taps move, and do not zoom");

  const swiped = await moveSomewhere(page, swipe);
  await waitForSpiderAt(watcher, "Thumb", swiped.cell);
  step(`a swipe ${swiped.direction} on the field moved the spider to ${swiped.cell}; the desktop sees it`);

  await watcher.locator("#chat-input").fill("welcome, thumb");
  await watcher.locator("#chat-input").press("Enter");
  await page.locator("#chat-lines li", { hasText: "welcome, thumb" }).waitFor({ timeout: WAIT });
  const input = page.locator("#chat-input");
  await input.scrollIntoViewIfNeeded();
  const chat = await box(page.locator(".chat"), "the chat");
  const status = await box(page.locator(".status"), "the status bar");
  if (overlap(chat, status)) fail("the status bar covers the chat");
  const hit = await input.evaluate((el) => {
    const r = el.getBoundingClientRect();
    return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === el;
  });
  if (!hit) fail("something covers the chat's input");
  await input.tap();
  await input.fill("typed on a phone");
  await page.locator(".chat button[type=submit]").tap();
  await watcher.locator("#chat-lines li", { hasText: "typed on a phone" }).waitFor({ timeout: WAIT });
  step("the chat is readable and usable, the status bar covers none of it");

  await watcher.evaluate(() => document.activeElement?.blur());
  const steps = await catchFly(watcher);
  await waitForTopCatcher(page, "Desk", 1);
  step(`Desk walked ${steps} steps onto a fly; the phone's scoreboard lists it`);

  await page.evaluate(() => window.scrollTo(0, 0));
  await spiderOf(page, "Desk").waitFor({ timeout: WAIT });
  mkdirSync(path.dirname(screenshot), { recursive: true });
  await page.waitForTimeout(300); // let the last glide finish
  await page.screenshot({ path: screenshot });
  step(`screenshot saved to ${screenshot}`);

  if (errors.length) fail(`the pages logged errors:\n  ${errors.join("\n  ")}`);
  step("no console errors");
});
