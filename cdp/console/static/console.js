// Console behaviour that needs script. Loaded from this origin with the page's nonce; no
// inline handlers (the CSP forbids them).
(function () {
  "use strict";
  // A page restored from the back-forward cache after sign-out must not show its content:
  // reload it, and the server (no session) answers with the sign-in page.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { window.location.reload(); }
  });
  // Break-glass countdown: the banner names the end time; this shows the minutes left and
  // reloads the page when the grant runs out (the server then renders the normal view).
  function tick() {
    document.querySelectorAll("[data-expires-at]").forEach(function (el) {
      var left = Math.max(0, Date.parse(el.getAttribute("data-expires-at")) - Date.now());
      var m = Math.floor(left / 60000), s = Math.floor((left % 60000) / 1000);
      el.textContent = m + ":" + (s < 10 ? "0" : "") + s;
      if (left === 0 && !el.hasAttribute("data-done")) {
        el.setAttribute("data-done", "1");
        window.location.reload();
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
  });
})();
