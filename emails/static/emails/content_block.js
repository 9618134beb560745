// A content block's page: "Copy" puts the block's merge field ({{ content.key }})
// on the clipboard; where the browser allows no clipboard (a page not served over
// HTTPS), it selects the merge field for the user to copy.
(function () {
  "use strict";

  function say(button, words) {
    var was = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", was);
    button.textContent = words;
    window.setTimeout(function () {
      button.textContent = was;
    }, 2000);
  }

  function select(button) {
    var code = button.parentNode.querySelector(".block-merge-field");
    if (code) {
      window.getSelection().selectAllChildren(code);
    }
    say(button, "Selected: press Ctrl+C");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) {
      return;
    }
    event.preventDefault();
    var text = button.getAttribute("data-copy");
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () {
          say(button, "Copied");
        },
        function () {
          select(button);
        }
      );
    } else {
      select(button);
    }
  });
})();
