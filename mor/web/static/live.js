// Keeps a part of the page current while it is open (the day's list, a delivery's
// steps): asks every few seconds whether anything changed (an answer with no names in
// it), and only then reloads that part.
const list = document.querySelector("[data-live]");
const every = Number(list?.dataset.liveEvery) || 10_000;
let last = null;

async function check() {
  try {
    const answer = await fetch(list.dataset.live, { credentials: "same-origin" });
    if (answer.ok) {
      const { token } = await answer.json();
      if (last !== null && token !== last) {
        const page = await fetch(window.location.href, { credentials: "same-origin" });
        const fresh = new DOMParser().parseFromString(await page.text(), "text/html")
          .querySelector("[data-live]");
        if (fresh) list.replaceChildren(...fresh.childNodes);
      }
      last = token;
    }
  } finally {
    setTimeout(check, every);
  }
}

if (list) check();
