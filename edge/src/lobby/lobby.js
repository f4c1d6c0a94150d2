// Keeps the lobby's list of games live: every few seconds, while the page is shown, it
// fetches this same page and swaps in its list, so the markup is defined once, on the
// server. Without script the lobby still works; its counts are then those of the load.
(() => {
  const EVERY_MS = 3000;
  const list = document.getElementById("games");
  let timer = 0;
  async function refresh() {
    clearTimeout(timer);
    // a keyboard user inside the list keeps their place: swap on a later round
    if (!list.contains(document.activeElement)) {
      try {
        const response = await fetch("/", { cache: "no-store" });
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = response.ok && page.getElementById("games");
        if (fresh) list.replaceChildren(...fresh.childNodes);
      } catch {
        // the server is away for now: keep the list and ask again
      }
    }
    if (!document.hidden) timer = setTimeout(refresh, EVERY_MS);
  }
  document.addEventListener("visibilitychange", () => document.hidden || refresh());
  timer = setTimeout(refresh, EVERY_MS);
})();
