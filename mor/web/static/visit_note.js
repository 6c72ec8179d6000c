// The visit note's form: saved as a draft a moment after the clinician stops typing and
// when the page is left (so a closed tab or a dropped call loses nothing), the body
// mass index worked out as the weight and height are typed, ICD-10 codes suggested as
// a diagnosis is typed, and the prescription's warnings shown beside each medicine.

const SAVE_AFTER_MS = 1500;
const SUGGEST_AFTER_MS = 250;

const form = document.getElementById("visit-form");
if (form) {
  const status = document.getElementById("draft-status");
  let saveTimer = null;
  let unsaved = false;
  let saving = null;

  const draft = (extra) => {
    const data = new FormData(form);
    for (const [name, value] of Object.entries(extra || {})) data.set(name, value);
    return data;
  };

  const save = async (extra) => {
    clearTimeout(saveTimer);
    if (saving) await saving.catch(() => {});
    unsaved = false;
    saving = fetch(form.dataset.draft, {method: "POST", body: draft(extra),
                                        credentials: "same-origin"});
    try {
      const answer = await saving;
      const body = await answer.json();
      if (!answer.ok) throw new Error(body.error || answer.statusText);
      status.textContent = form.dataset.savedText.replace("{time}", body.saved);
      markProblems(body.problems || []);
      if (body.warnings) showWarnings(body.warnings);
    } catch (error) {
      unsaved = true;
      status.textContent = form.dataset.failedText;
      saveTimer = setTimeout(save, SAVE_AFTER_MS * 4);
    } finally {
      saving = null;
    }
  };

  const later = () => {
    unsaved = true;
    clearTimeout(saveTimer);
    saveTimer = setTimeout(save, SAVE_AFTER_MS);
  };

  const markProblems = (problems) => {
    for (const field of form.querySelectorAll("[data-draft-problem]")) {
      field.removeAttribute("aria-invalid");
      field.removeAttribute("data-draft-problem");
      field.title = "";
    }
    for (const problem of problems) {
      const field = form.elements.namedItem(problem.field);
      if (!field || !field.setAttribute) continue;
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("data-draft-problem", "");
      field.title = problem.message;
    }
  };

  const showWarnings = (warnings) => {
    for (const box of form.querySelectorAll("[data-warnings-of]")) {
      const texts = warnings[box.dataset.warningsOf] || [];
      let list = box.querySelector("ul");
      if (list) list.remove();
      const acknowledge = box.querySelector(".acknowledge");
      if (texts.length) {
        list = document.createElement("ul");
        list.className = "notice";
        for (const text of texts) {
          const item = document.createElement("li");
          item.textContent = text;
          list.append(item);
        }
        box.prepend(list);
      }
      if (acknowledge) {
        const ticked = acknowledge.querySelector("input").checked;
        acknowledge.hidden = !texts.length && !ticked;
      }
    }
  };

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  form.addEventListener("submit", () => {
    clearTimeout(saveTimer);
    unsaved = false;  // the signing saves it
  });
  // A beacon still goes out as the tab closes, where a fetch would be cut off.
  const leave = () => {
    if (!unsaved) return;
    unsaved = false;
    navigator.sendBeacon(form.dataset.draft, draft());
  };
  addEventListener("pagehide", leave);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") leave();
  });

  // The body mass index, as signing will record it.
  const bmi = document.getElementById("bmi");
  const number = (name) => parseFloat(String(form.elements.namedItem(name).value)
                                        .replace(",", "."));
  const showBmi = () => {
    const weight = number("weight");
    const height = number("height");
    bmi.textContent = weight > 0 && height > 0
      ? (Math.round(weight / (height / 100) ** 2 * 10) / 10).toString() : "–";
  };
  form.elements.namedItem("weight").addEventListener("input", showBmi);
  form.elements.namedItem("height").addEventListener("input", showBmi);

  // ICD-10 as the clinician types: codes and names in the page's language.
  const suggestions = document.getElementById("icd10-suggestions");
  const named = new Map();
  let suggestTimer = null;
  const suggest = async (field) => {
    const query = field.value.trim();
    const nameBox = form.querySelector(`[data-name-of="${field.name}"]`);
    if (named.has(query.toUpperCase())) {
      nameBox.textContent = named.get(query.toUpperCase());
      return;
    }
    nameBox.textContent = "";
    if (query.length < 2) return;
    const answer = await fetch(`${form.dataset.diagnoses}?q=${encodeURIComponent(query)}`,
                               {credentials: "same-origin"});
    if (!answer.ok) return;
    const {diagnoses} = await answer.json();
    suggestions.replaceChildren(...diagnoses.map(({code, name}) => {
      named.set(code, name);
      const option = document.createElement("option");
      option.value = code;
      option.label = `${code} ${name}`;
      option.textContent = `${code} ${name}`;
      return option;
    }));
    if (named.has(field.value.trim().toUpperCase())) {
      nameBox.textContent = named.get(field.value.trim().toUpperCase());
    }
  };
  for (const field of form.querySelectorAll("[data-diagnosis]")) {
    field.addEventListener("input", () => {
      clearTimeout(suggestTimer);
      suggestTimer = setTimeout(() => suggest(field), SUGGEST_AFTER_MS);
    });
  }

  // Warnings about medicines already on the draft, for a page opened again.
  if ([...form.querySelectorAll('select[name$="-medicine"][name^="rx-"]')]
      .some((select) => select.value)) {
    save({warnings: "all"});
  }
}
