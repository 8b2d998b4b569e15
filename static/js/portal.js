/* Behaviour every page shares. The Content-Security-Policy allows no inline script, handler or style attribute
   (issue 13), so what used to be onchange="..." and style="width: ..." is declared with data attributes and
   applied here. */
(function () {
  "use strict";

  function start() {
    // <select data-autosubmit>: choosing an option submits its form (filters, region pickers).
    document.querySelectorAll("[data-autosubmit]").forEach(function (field) {
      field.addEventListener("change", function () { field.form.submit(); });
    });
    // <input type="checkbox" data-select-all="entry">: ticks or clears every "entry" checkbox of its form.
    document.querySelectorAll("[data-select-all]").forEach(function (all) {
      all.addEventListener("change", function () {
        all.form.querySelectorAll('input[type="checkbox"][name="' + all.getAttribute("data-select-all") + '"]')
          .forEach(function (box) { box.checked = all.checked; });
      });
    });
    // Bar charts: <span class="fill" data-width="42"> is drawn 42% wide. Set through the CSSOM, which the
    // policy allows, unlike a style attribute.
    document.querySelectorAll("[data-width]").forEach(function (bar) {
      var percent = parseFloat(bar.getAttribute("data-width").replace(",", "."));  // "42,5" in Indonesian
      if (!isNaN(percent)) { bar.style.width = Math.max(0, Math.min(100, percent)) + "%"; }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
