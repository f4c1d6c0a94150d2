// Reading the field as a player sees it, and finding a way across it with the arrow
// keys: for tests that steer a spider somewhere (next to a brick, onto a fly).

import { CELL, WAIT, fail } from "./harness.mjs";

/** The arrow keys and the step each one asks for. */
export const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

/** The cell a `translate(Xpx, Ypx)` transform puts a group on. */
export function cellOf(transform) {
  const m = /translate\((-?[\d.]+)px,\s*(-?[\d.]+)px\)/.exec(transform ?? "");
  return m && [(Number(m[1]) - CELL / 2) / CELL, (Number(m[2]) - CELL / 2) / CELL];
}

/** What `page` draws: its own cell, the other spiders' cells, bricks, flies, the board size. */
export async function view(page) {
  const drawn = await page.evaluate(() => {
    const me = document.querySelector("svg.field g.player.me")?.style.transform;
    const others = [...document.querySelectorAll("svg.field g.player:not(.me)")].map((g) => g.style.transform);
    const bricks = [...document.querySelectorAll('svg.field use[href="#brick"]')].map((u) => [
      Number(u.getAttribute("x")),
      Number(u.getAttribute("y")),
    ]);
    const flies = [...document.querySelectorAll("svg.field g.fly-cell")].map((g) => g.style.transform);
    const readout = document.querySelector("#position").innerText;
    return { me, others, bricks, flies, readout };
  });
  const size = /\/ \((\d+), (\d+)\)/.exec(drawn.readout) ?? fail(`unexpected readout ${drawn.readout}`);
  return {
    me: cellOf(drawn.me),
    others: drawn.others.map(cellOf).filter(Boolean),
    bricks: drawn.bricks.map(([x, y]) => [x / CELL, y / CELL]),
    flies: drawn.flies.map(cellOf).filter(Boolean),
    width: Number(size[1]) + 1,
    height: Number(size[2]) + 1,
  };
}

export const key = ([x, y]) => `${x},${y}`;

/**
 * The arrow presses that take `from` to a cell satisfying `goal` over free cells of
 * `world` (breadth first), or null.
 */
export function route(world, from, goal, avoid = []) {
  const blocked = new Set([...world.bricks, ...world.others, ...avoid].map(key));
  const seen = new Map([[key(from), null]]);
  const queue = [from];
  while (queue.length) {
    const cell = queue.shift();
    if (goal(cell)) {
      const presses = [];
      for (let c = cell; seen.get(key(c)); c = seen.get(key(c)).from) presses.unshift(seen.get(key(c)).press);
      return presses;
    }
    for (const [press, [dx, dy]] of Object.entries(ARROWS)) {
      const next = [cell[0] + dx, cell[1] + dy];
      const inside = next[0] >= 0 && next[1] >= 0 && next[0] < world.width && next[1] < world.height;
      if (!inside || blocked.has(key(next)) || seen.has(key(next))) continue;
      seen.set(key(next), { from: cell, press });
      queue.push(next);
    }
  }
  return null;
}

/**
 * Walks the own spider of `page` onto the nearest fly with the arrow keys (the keyboard
 * must be the field's: no input focused), each press once the previous step is shown;
 * returns how many steps it took.
 */
export async function catchFly(page) {
  const world = await view(page);
  const flies = new Set(world.flies.map(key));
  const presses = route(world, world.me, (cell) => flies.has(key(cell))) ?? fail("no fly is reachable");
  for (const press of presses) {
    const before = await page.locator("#position").innerText();
    await page.keyboard.press(press);
    await page.waitForFunction((was) => document.querySelector("#position").innerText !== was, before, {
      timeout: WAIT,
    });
  }
  return presses.length;
}

/** Waits until `page` lists `name` among the top catchers with `score`. */
export async function waitForTopCatcher(page, name, score) {
  await page
    .locator("#scores li", { has: page.locator(".who", { hasText: new RegExp(`^${name}$`) }) })
    .locator(".score", { hasText: new RegExp(`^${score}$`) })
    .waitFor({ timeout: WAIT });
}
