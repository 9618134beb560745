/* Fills the "shown at" token into this point's forms on the page. */
(function (config) {
  "use strict";
  var selector = 'form[data-signup-point="' + config.key + '"] input[name="token"]';
  function fill() {
    document.querySelectorAll(selector).forEach(function (input) { input.value = config.token; });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fill);
  else fill();
})({{ config }});
