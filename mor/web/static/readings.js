// Home readings: each reading is kept on the phone first, then sent.
//
// When the patient taps save, the reading gets its key (a urn:uuid:) and goes into a
// queue in localStorage; the queue is sent one reading at a time, and a reading leaves it
// only when mor answered that it has it (201 stored now, 200 stored before). Without a
// connection it stays, and is sent when the phone is back online, when the page is
// opened again, or on the next try. The key is fixed when the reading is saved, so a
// reading sent again after its answer was lost is still stored once.

const QUEUE = "mor.readings.queue";
const RETRY_MS = 30000;

const box = document.getElementById("readings-queue");
if (box) {
  const status = document.getElementById("readings-status");
  const pending = document.getElementById("readings-pending");
  const patient = box.dataset.patient;
  let flushing = false;
  let retry = null;

  const load = () => {
    try {
      const queue = JSON.parse(localStorage.getItem(QUEUE) || "[]");
      return Array.isArray(queue) ? queue : [];
    } catch (error) {
      return [];
    }
  };
  const store = (queue) => localStorage.setItem(QUEUE, JSON.stringify(queue));
  // Another tab may have changed the queue meanwhile: always read it again first.
  const remove = (key) => store(load().filter((item) => item.body.key !== key));
  const mine = () => load().filter((item) => item.patient === patient);

  const uuid = () => {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-` +
      `${hex.slice(16, 20)}-${hex.slice(20)}`;
  };

  // The phone's own time, with its offset: 2026-12-03T07:15:00+07:00.
  const localIso = (moment) => {
    const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
    const offset = -moment.getTimezoneOffset();
    return `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}` +
      `T${pad(moment.getHours())}:${pad(moment.getMinutes())}:${pad(moment.getSeconds())}` +
      `${offset >= 0 ? "+" : "-"}${pad(offset / 60)}:${pad(offset % 60)}`;
  };

  const say = (text) => { status.textContent = text; };

  const showPending = () => {
    const queue = mine();
    pending.replaceChildren();
    pending.hidden = queue.length === 0;
    for (const item of queue) {
      const line = document.createElement("li");
      line.textContent = `${box.dataset.pendingTitle}: ${item.label}`;
      line.dataset.pending = item.body.key;
      pending.append(line);
    }
  };

  const later = () => {
    clearTimeout(retry);
    retry = setTimeout(flush, RETRY_MS);
  };

  // What was sent shows at once in today's list, the charts and the recent readings: the
  // page is read again and those parts replaced, the forms and the queue left as they are.
  const refresh = async () => {
    try {
      const answer = await fetch(location.href, {credentials: "same-origin"});
      if (!answer.ok) return;
      const fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
      for (const id of ["due", "charts", "recent"]) {
        const shown = document.getElementById(id);
        const now = fresh.getElementById(id);
        if (shown && now) shown.replaceWith(now);
      }
    } catch (offline) {
      // The connection went again: the next visit shows them.
    }
  };

  // Sends the queue one reading at a time; stops at the first that could not be sent.
  const flush = async () => {
    if (flushing) return;
    flushing = true;
    let sent = 0;
    try {
      for (const item of mine()) {
        say(box.dataset.sendingText);
        let answer;
        try {
          answer = await fetch(box.dataset.post, {
            method: "POST", credentials: "same-origin",
            headers: {"Content-Type": "application/json", "X-CSRF-Token": box.dataset.csrf},
            body: JSON.stringify(item.body)});
        } catch (offline) {
          say(box.dataset.queuedText);
          later();
          return;
        }
        if (answer.status === 200 || answer.status === 201) {
          remove(item.body.key);
          sent += 1;
          showPending();
          continue;
        }
        let error = "";
        try { error = (await answer.json()).error || ""; } catch (notJson) { /* a proxy's page */ }
        if (answer.status === 400) {
          remove(item.body.key);  // mor will never take it as it is: say why
          showPending();
          say(`${item.label}: ${error}`);
          continue;
        }
        // Signed out, or mor not reachable behind a proxy: keep it for later.
        say(answer.status === 401 || answer.status === 403
          ? (error || box.dataset.signedOutText) : box.dataset.waitingText);
        if (answer.status !== 401 && answer.status !== 403) later();
        return;
      }
      if (sent) {
        say(box.dataset.sentText);
        refresh();
      }
    } finally {
      flushing = false;
      showPending();
    }
  };

  const label = (form, body) => {
    const title = form.querySelector("h3").textContent;
    if (body.kind === "bp") return `${title} ${body.systolic}/${body.diastolic}`;
    return `${title} ${body.kind === "glucose" ? body.glucose : body.weight}`;
  };

  for (const form of document.querySelectorAll("form[data-reading]")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      const data = new FormData(form);
      const body = {key: `urn:uuid:${uuid()}`, kind: form.dataset.reading,
                    taken: localIso(new Date())};
      for (const name of ["systolic", "diastolic", "pulse", "glucose", "weight", "context"]) {
        const value = data.get(name);
        if (value !== null && value !== "") body[name] = name === "context" ? value : Number(value);
      }
      const queue = load();
      queue.push({patient, body, label: label(form, body)});
      store(queue);
      form.reset();
      say(box.dataset.queuedText);
      showPending();
      flush();
    });
  }

  window.addEventListener("online", flush);
  showPending();
  flush();
}
