/* A subscription point's admin page: the "Copy" buttons of its snippets, and
   "Show the pop-up", which loads the real pop-up script in preview mode
   (shown at once, posting nothing, remembering nothing). A file, not inline:
   the admin's Content-Security-Policy runs scripts from this site only. */
(function () {
  "use strict";

  function say(button, selector, text) {
    var status = button.parentNode.querySelector(selector);
    if (!status) return;
    status.textContent = text;
    window.clearTimeout(status.sayTimer);
    status.sayTimer = window.setTimeout(function () { status.textContent = ""; }, 4000);
  }

  function copy(button) {
    var area = document.getElementById(button.getAttribute("data-copy"));
    if (!area) return;
    area.focus();
    area.select();
    var done = function () { say(button, ".sp-copied", "Copied. Paste it into your site."); };
    var byHand = function () {
      // Older browsers, or a page not served over HTTPS: the selection is copied.
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
      if (copied) done();
      else say(button, ".sp-copied", "Selected: press Ctrl+C (⌘C on a Mac) to copy.");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(area.value).then(done, byHand);
    } else {
      byHand();
    }
  }

  function showPopup(button) {
    var old = document.getElementById("sp-popup-preview-script");
    if (old) old.parentNode.removeChild(old);
    var script = document.createElement("script");
    script.id = "sp-popup-preview-script";
    script.src = button.getAttribute("data-popup-src") + "&shown=" + Date.now();
    script.onerror = function () {
      say(button, ".sp-popup-status", "The pop-up could not be loaded: reload the page and try again.");
    };
    document.body.appendChild(script);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.sp-copy, button.sp-show-popup");
    if (!button) return;
    event.preventDefault();
    if (button.classList.contains("sp-copy")) copy(button);
    else showPopup(button);
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.classList && event.target.classList.contains("sp-code")) event.target.select();
  });
})();
