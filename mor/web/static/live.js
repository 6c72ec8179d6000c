// Keeps the day's list current while the page is open: asks every few seconds whether
// anything changed (an answer with no names in it), and only then reloads the list.
const list = document.querySelector("[data-live]");
const every = 10_000;
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
