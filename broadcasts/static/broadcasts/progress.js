// Follow a broadcast or split test while it sends: every few seconds ask its
// progress view (JSON: its status, the box's HTML, when to ask again) and
// redraw the box. When the status changes the whole page is loaded again, so
// that what it shows (the report, the buttons) fits the new status.
(function () {
  "use strict";

  function follow(box) {
    let every = Number(box.dataset.refreshSeconds || 0);
    if (!every) return;
    const status = box.dataset.status;

    function ask() {
      fetch(box.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .catch(function () { return null; })
        .then(function (answer) {
          if (answer === null) { later(); return; } // a lost answer: ask again
          if (answer.status !== status) { window.location.reload(); return; }
          box.innerHTML = answer.html;
          every = Number(answer.refreshSeconds || 0);
          later();
        });
    }

    function later() {
      if (every) setTimeout(ask, every * 1000);
    }

    later();
  }

  function start() {
    document.querySelectorAll("[data-progress-url][data-refresh-seconds]").forEach(follow);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
