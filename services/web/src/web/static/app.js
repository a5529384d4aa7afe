// A little help where JavaScript runs; every page works without it.
// 1. A form is sent once: its button is disabled right after the first submit (the server refuses repeats too).
// 2. The print button prints the receipt.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset.terkirim) { event.preventDefault(); return; }
  form.dataset.terkirim = "1";
  setTimeout(function () {
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
  }, 0);
});
document.addEventListener("click", function (event) {
  if (event.target.matches("[data-cetak]")) { window.print(); }
});
document.querySelectorAll("[data-cetak]").forEach(function (b) { b.hidden = false; });
// 3. A form sent back with mistakes: the list of them gets the focus, so a screen reader reads it first.
var mistakes = document.getElementById("ringkasan-galat");
if (mistakes) { mistakes.focus(); }
