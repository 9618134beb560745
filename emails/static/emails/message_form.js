// The message form's merge-field picker: a click puts the merge field where
// the cursor is in the body last written in (the HTML body until then), in
// its code editor (django-ace) or, without it, in its plain text area.
// Without this script the picker is a list to copy from.
(function () {
  "use strict";
  var BODIES = ["html_body", "text_body"];
  var lastBody = "html_body";

  function rowOf(name) {
    return document.querySelector(".form-row.field-" + name);
  }

  document.addEventListener("focusin", function (event) {
    BODIES.forEach(function (name) {
      var row = rowOf(name);
      if (row && row.contains(event.target)) {
        lastBody = name;
      }
    });
  });

  function insert(name, text) {
    var row = rowOf(name);
    if (!row) {
      return;
    }
    var widget = row.querySelector(".django-ace-widget");
    if (widget && widget.editor) {
      widget.editor.insert(text);  // its change handler copies it into the text area
      widget.editor.focus();
      return;
    }
    var area = row.querySelector("textarea");
    if (area) {
      area.setRangeText(text, area.selectionStart, area.selectionEnd, "end");
      area.dispatchEvent(new Event("input", { bubbles: true }));
      area.focus();
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-merge-field]");
    if (button) {
      event.preventDefault();
      insert(lastBody, button.getAttribute("data-merge-field"));
    }
  });

  // The picker shows the saved list's profile fields: say so once another is chosen.
  document.addEventListener("DOMContentLoaded", function () {
    var list = document.getElementById("id_list");
    var note = document.querySelector(".merge-field-picker .list-changed");
    if (!list || !note) {
      return;
    }
    var saved = list.value;
    list.addEventListener("change", function () {
      note.hidden = list.value === saved;
    });
  });
})();
