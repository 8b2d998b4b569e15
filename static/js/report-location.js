/* Cek Bansos report form: <button data-locate> asks the phone's browser for its position and writes it into
   the form's latitude and longitude fields. The server checks that it lies in Indonesia; this only fills. */
(function () {
  "use strict";

  function start() {
    document.querySelectorAll("[data-locate]").forEach(function (button) {
      var form = button.form;
      var status = document.getElementById(button.getAttribute("data-locate"));
      if (!navigator.geolocation) { button.hidden = true; return; }
      button.addEventListener("click", function () {
        status.textContent = button.getAttribute("data-waiting");
        navigator.geolocation.getCurrentPosition(function (pos) {
          form.elements.latitude.value = pos.coords.latitude.toFixed(6);
          form.elements.longitude.value = pos.coords.longitude.toFixed(6);
          status.textContent = button.getAttribute("data-found") + " ±" + Math.round(pos.coords.accuracy) + " m";
        }, function () {
          status.textContent = button.getAttribute("data-failed");
        }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}());
