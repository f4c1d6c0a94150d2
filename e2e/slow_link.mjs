// End to end over a slow link: a page plays through a TCP proxy that delays every chunk
// by 300 ms each way (a 600 ms round trip). The page judges its own moves with the
// server's rules (the `rules` crate, in wasm), so:
//   - its own spider moves within one animation frame of the key press, long before the
//     server could answer;
//   - a press toward a brick never draws the spider on the brick, not even briefly;
//   - many quick moves never make the spider jump back when their late echoes arrive;
//   - a true race (a player on a fast link takes the cell first) is corrected by the
//     server, and the slow page ends where the server says.
//
//   cargo xtask dist && (cd e2e && npm ci && node slow_link.mjs)
//
// Environment: see lib/harness.mjs.

import net from "node:net";
import { ARROWS, cellOf, key, route, view } from "./lib/field.mjs";
import { CELL, WAIT, enter, fail, openPage, scenario, step } from "./lib/harness.mjs";

/** The proxy's delay, each way. */
const DELAY_MS = 300;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A TCP proxy on a free port to 127.0.0.1:`upstreamPort` that holds every chunk for
 * `delayMs` in each direction, in order (timers of equal delay fire in order), closing
 * each side as late as its data.
 */
async function slowProxy(upstreamPort, delayMs) {
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, "127.0.0.1");
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ]) {
      sockets.add(from);
      from.setNoDelay(true);
      from.on("data", (chunk) => setTimeout(() => to.destroyed || to.write(chunk), delayMs));
      from.on("end", () => setTimeout(() => to.end(), delayMs));
      from.on("error", () => to.destroy());
      from.on("close", () => {
        sockets.delete(from);
        setTimeout(() => to.destroy(), delayMs);
      });
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: server.address().port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/**
 * Presses `press` on `page` and reports what the own spider's transform is at the first
 * animation frame after the key event, and every value it takes for `watchMs` after.
 */
async function pressAndWatch(page, press, watchMs) {
  await page.evaluate(() => {
    const me = () => document.querySelector("svg.field g.player.me");
    window.__watch = { before: me().style.transform, firstFrame: null, seen: [] };
    const observer = new MutationObserver(() => window.__watch.seen.push(me()?.style.transform));
    observer.observe(document.querySelector("svg.field"), {
      attributes: true,
      attributeFilter: ["style"],
      subtree: true,
      childList: true,
    });
    window.__watch.stop = () => observer.disconnect();
    window.addEventListener(
      "keydown",
      () => requestAnimationFrame(() => (window.__watch.firstFrame = me().style.transform)),
      { capture: true, once: true },
    );
  });
  await page.keyboard.press(press);
  await page.waitForFunction(() => window.__watch.firstFrame !== null, null, { timeout: WAIT });
  await sleep(watchMs);
  return page.evaluate(() => {
    window.__watch.stop();
    const { before, firstFrame, seen } = window.__watch;
    return { before, firstFrame, seen };
  });
}

/** Presses the arrows of `presses` one by one, each shown at once; returns where it ends. */
async function walk(page, presses) {
  for (const press of presses) {
    const { before, firstFrame } = await pressAndWatch(page, press, 0);
    const [dx, dy] = ARROWS[press];
    const [x, y] = cellOf(before);
    const moved = cellOf(firstFrame);
    if (!moved || moved[0] !== x + dx || moved[1] !== y + dy) {
      fail(`${press} from (${x}, ${y}): the first frame drew the spider at ${moved}`);
    }
  }
  return (await view(page)).me;
}

await scenario(async ({ server: startServer, browser }) => {
  const server = await startServer();
  const proxy = await slowProxy(server.port, DELAY_MS);
  try {
    step(`proxy on port ${proxy.port}: ${DELAY_MS} ms each way`);
    const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
    const errors = [];
    const game = new URL(await server.defaultGame()).pathname;
    const slow = await openPage(context, `http://127.0.0.1:${proxy.port}${game}`, errors, "Slow");
    await enter(slow, "Slow");
    await slow.evaluate(() => document.activeElement?.blur());
    step("Slow entered through the slow link");

    // walk next to a brick, each step drawn at the first frame after its key press
    let world = await view(slow);
    const towardBrick = (cell) =>
      Object.entries(ARROWS).find(([, [dx, dy]]) => world.bricks.some(([bx, by]) => bx === cell[0] + dx && by === cell[1] + dy));
    const presses = route(world, world.me, (cell) => towardBrick(cell)) ?? fail("no brick is reachable");
    const started = Date.now();
    const at = await walk(slow, presses);
    step(`${presses.length} steps toward a brick, each drawn within one animation frame (${Date.now() - started} ms in all)`);

    // the late echoes of those moves arrive now; none may pull the spider back
    await sleep(4 * DELAY_MS);
    const settled = (await view(slow)).me;
    if (key(settled) !== key(at)) fail(`after the echoes the spider is at ${settled}, not ${at}`);
    step(`the late echoes left the spider where it was (${at})`);

    const [press, [dx, dy]] = towardBrick(at);
    const brick = [at[0] + dx, at[1] + dy];
    const bump = await pressAndWatch(slow, press, 4 * DELAY_MS);
    const onBrick = [bump.firstFrame, ...bump.seen].filter((t) => t && key(cellOf(t)) === key(brick));
    if (onBrick.length) fail(`a press toward the brick at ${brick} drew the spider on it`);
    if (key(cellOf(bump.firstFrame)) !== key(at)) fail(`a press toward a brick moved the spider to ${cellOf(bump.firstFrame)}`);
    if (key((await view(slow)).me) !== key(at)) fail("the spider did not stay put before the brick");
    step(`a press toward the brick at ${brick} never drew the spider on it`);

    // a true race: Fast (direct link) and Slow both press toward the same free cell;
    // Fast's move reaches the server first, Slow shows its own at once and is corrected
    const fast = await openPage(context, `${server.base}${game}`, errors, "Fast");
    await enter(fast, "Fast");
    await fast.evaluate(() => document.activeElement?.blur());
    world = await view(slow);
    const free = (cell) =>
      cell[0] >= 0 && cell[1] >= 0 && cell[0] < world.width && cell[1] < world.height &&
      ![...world.bricks, ...world.others].some((c) => key(c) === key(cell));
    // a cell two steps right of Slow with a free cell between: Fast goes there
    const meeting = (cell) => free(cell) && free([cell[0] + 1, cell[1]]) && free([cell[0] + 2, cell[1]]);
    const toMeeting = route(world, world.me, meeting) ?? fail("no room for the race");
    const slowAt = await walk(slow, toMeeting);
    const middle = [slowAt[0] + 1, slowAt[1]];
    const fastGoal = [slowAt[0] + 2, slowAt[1]];
    await sleep(4 * DELAY_MS);
    const fastWorld = await view(fast);
    const fastPresses =
      route(fastWorld, fastWorld.me, (c) => key(c) === key(fastGoal), [middle, slowAt]) ?? fail("Fast cannot reach the race");
    for (const p of fastPresses) {
      await fast.keyboard.press(p);
      await sleep(60);
    }
    await fast.waitForFunction(
      (want) => document.querySelector("#position").innerText.startsWith(want),
      `(${fastGoal[0]}, ${fastGoal[1]})`,
      { timeout: WAIT },
    );
    // Slow must see Fast beside the middle cell before the race, or it would judge the
    // middle taken by nobody anyway; wait for that, then press both at once
    await slow.waitForFunction(
      (want) =>
        [...document.querySelectorAll("svg.field g.player:not(.me)")].some((g) => g.style.transform === want),
      `translate(${fastGoal[0] * CELL + CELL / 2}px, ${fastGoal[1] * CELL + CELL / 2}px)`,
      { timeout: WAIT },
    );
    await Promise.all([slow.keyboard.press("ArrowRight"), fast.keyboard.press("ArrowLeft")]);
    const shown = (await view(slow)).me;
    if (key(shown) !== key(middle)) fail(`Slow did not show its own move at once (at ${shown})`);
    const deadline = Date.now() + WAIT;
    let final;
    while (Date.now() < deadline) {
      final = await view(slow);
      if (key(final.me) === key(slowAt) && final.others.some((c) => key(c) === key(middle))) break;
      await sleep(50);
    }
    if (key(final.me) !== key(slowAt)) fail(`after losing the race Slow is drawn at ${final.me}, not back at ${slowAt}`);
    if (!final.others.some((c) => key(c) === key(middle))) fail("Slow does not draw Fast on the cell it won");
    step(`a true race: Slow showed its move to ${middle} at once; the server gave the cell to Fast and Slow is back at ${slowAt}`);

    if (errors.length) fail(`the pages logged errors:\n  ${errors.join("\n  ")}`);
    step("no console errors");
  } finally {
    proxy.close();
  }
});
