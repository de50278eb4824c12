// A little help, never needed: the pages work without it.
document.addEventListener("DOMContentLoaded", function () {
  // Take keyboard and screen-reader users straight to what went wrong.
  var summary = document.querySelector("[data-focus]");
  if (summary) { summary.focus(); }
});
