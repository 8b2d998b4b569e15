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
    // <button data-formset-add="members">: appends one more form of the Django formset "members", from its
    // <template data-formset-template="members"> (the formset's empty_form), and counts it in TOTAL_FORMS.
    document.querySelectorAll("[data-formset-add]").forEach(function (button) {
      var prefix = button.getAttribute("data-formset-add");
      var template = document.querySelector('template[data-formset-template="' + prefix + '"]');
      var list = document.querySelector('[data-formset="' + prefix + '"]');
      var total = document.querySelector('input[name="' + prefix + '-TOTAL_FORMS"]');
      if (!template || !list || !total) { return; }
      button.addEventListener("click", function () {
        var index = parseInt(total.value, 10) || 0;
        var holder = document.createElement("div");
        holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
        var added = holder.firstElementChild;
        list.appendChild(added);
        total.value = String(index + 1);
        var first = added.querySelector("input, select, textarea");
        if (first) { first.focus(); }
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
