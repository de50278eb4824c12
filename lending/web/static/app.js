// A little help, never needed: every page works without it (progressive enhancement).
import { initAll } from "/static/govuk-frontend.min.js";

// Set here rather than inline, so that the Content-Security-Policy needs no inline script. A
// browser that runs modules is one govuk-frontend supports.
document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

// Only pages with MoJ components load MoJ's script.
if (document.querySelector("[data-module^='moj-']")) {
  import("/static/moj-frontend.min.js").then((moj) => moj.initAll());
}

// A USB scanner types a tag and then Enter. In a box marked data-scan, Enter moves on to
// the next field instead of sending the whole form.
document.addEventListener("keydown", (event) => {
  const box = event.target;
  if (event.key !== "Enter" || !(box instanceof HTMLInputElement) || !box.hasAttribute("data-scan")) {
    return;
  }
  event.preventDefault();
  const fields = Array.from(box.form ? box.form.elements : []).filter(
    (el) => !el.disabled && el.type !== "hidden" && typeof el.focus === "function");
  const next = fields[fields.indexOf(box) + 1];
  if (next) { next.focus(); }
});
