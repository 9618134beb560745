/* For a point's embedded HTML forms on a shop's page: puts the "shown at"
   token into them, and keeps the honeypot off screen where the shop's
   Content-Security-Policy refuses the snippet's style attribute (styles
   set from a script are allowed). A form added to the page later gets its
   token when it is sent. */
(function (config) {
  "use strict";
  var FORMS = 'form[data-signup-point="' + config.key + '"]';

  function prepare(form) {
    var token = form.querySelector('input[name="token"]');
    if (token && !token.value) token.value = config.token;
    var trap = form.querySelector("[data-signup-honeypot]");
    if (trap) {
      trap.style.position = "absolute";
      trap.style.left = "-10000px";
      trap.style.width = "1px";
      trap.style.height = "1px";
      trap.style.overflow = "hidden";
    }
  }

  function prepareAll() {
    document.querySelectorAll(FORMS).forEach(prepare);
  }

  document.addEventListener(
    "submit",
    function (event) {
      if (event.target instanceof Element && event.target.matches(FORMS)) prepare(event.target);
    },
    true
  );
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", prepareAll);
  else prepareAll();
})({{ config }});
