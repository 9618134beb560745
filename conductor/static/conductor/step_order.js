// A thread's steps reordered in place (templates/admin/conductor/step/step_order.html):
// drag a step to any place in its thread, or press its "Move up" / "Move down"
// button. Each move is saved at once (conductor.admin.step_lists.move_view), and the
// page's step lists and diagram are drawn again from the answer, since moving a step
// renumbers those after it. A refused move is put back and the reason shown.
(function () {
  "use strict";
  if (window.conductorStepOrder) {
    return; // included twice on one page: one set of listeners is enough
  }
  window.conductorStepOrder = true;

  var saving = false;

  function items(list) {
    return Array.prototype.slice.call(list.querySelectorAll(":scope > ol > .step-order-item"));
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) {
      return input.value;
    }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function say(list, words, isError) {
    var status = list.querySelector(".step-order-status");
    if (status) {
      status.textContent = words;
      status.classList.toggle("step-order-error", Boolean(isError));
    }
  }

  function prepare(list) {
    if (list.dataset.ready) {
      return;
    }
    list.dataset.ready = "yes";
    list.querySelectorAll(".step-order-buttons, .step-order-hint").forEach(function (el) {
      el.hidden = false;
    });
    items(list).forEach(function (item) {
      item.draggable = true;
      item.querySelectorAll("a").forEach(function (link) {
        link.draggable = false; // drag the step, not its link
      });
    });
  }

  // Draw the answer: every thread's list (numbers and summaries change) and the diagram.
  function redraw(answer) {
    Object.keys(answer.lists).forEach(function (threadId) {
      document.querySelectorAll('.step-order[data-thread="' + threadId + '"]').forEach(function (old) {
        var holder = document.createElement("div");
        holder.innerHTML = answer.lists[threadId];
        var fresh = holder.firstElementChild;
        old.replaceWith(fresh);
        prepare(fresh);
      });
    });
    document.querySelectorAll('svg[data-version="' + answer.version + '"]').forEach(function (svg) {
      var old = svg.closest(".conductor-diagram") || svg;
      var holder = document.createElement("div");
      holder.innerHTML = answer.diagram;
      old.replaceWith(holder.firstElementChild);
    });
    document.querySelectorAll(".diagram-changes").forEach(function (line) {
      line.textContent = answer.changes; // how the working version now differs from the published
    });
  }

  function save(list, item, position, putBack, focusWith) {
    if (saving) {
      return;
    }
    saving = true;
    list.classList.add("step-order-saving");
    list.setAttribute("aria-busy", "true");
    say(list, "Saving…", false);
    var body = new FormData();
    body.append("step", item.dataset.step);
    body.append("thread", list.dataset.thread);
    body.append("position", String(position));
    fetch(list.dataset.moveUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
    })
      .then(function (response) {
        return response.json().catch(function () {
          return { error: "The server answered " + response.status + "; the step was not moved." };
        });
      })
      .then(function (answer) {
        saving = false;
        if (answer.error) {
          throw new Error(answer.error);
        }
        redraw(answer);
        var fresh = document.querySelector('.step-order[data-thread="' + list.dataset.thread + '"]');
        if (fresh) {
          say(fresh, answer.message, false);
          focusAgain(fresh, item.dataset.step, focusWith);
        }
      })
      .catch(function (error) {
        saving = false;
        list.classList.remove("step-order-saving");
        list.removeAttribute("aria-busy");
        putBack();
        var words = error && error.message && error.message !== "Failed to fetch"
          ? error.message
          : "Could not reach the server; the step was not moved.";
        say(list, words, true);
      });
  }

  // After a move with the keyboard, keep the focus on the step that moved.
  function focusAgain(list, stepId, direction) {
    if (!direction) {
      return;
    }
    var item = list.querySelector('.step-order-item[data-step="' + stepId + '"]');
    if (!item) {
      return;
    }
    var button = item.querySelector('.step-move[data-move="' + direction + '"]');
    if (!button || button.disabled) {
      button = item.querySelector(".step-move:not([disabled])");
    }
    if (button) {
      button.focus();
    }
  }

  function placeBack(list, item, index) {
    var rest = items(list).filter(function (other) { return other !== item; });
    var ol = list.querySelector(":scope > ol");
    ol.insertBefore(item, rest[index] || null);
  }

  // --- The buttons -------------------------------------------------------------
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".step-move");
    if (!button) {
      return;
    }
    var list = button.closest(".step-order-movable");
    var item = button.closest(".step-order-item");
    if (!list || !item || saving) {
      return;
    }
    var from = items(list).indexOf(item);
    var to = button.dataset.move === "up" ? from - 1 : from + 1;
    if (to < 0 || to >= items(list).length) {
      return;
    }
    save(list, item, to + 1, function () { placeBack(list, item, from); }, button.dataset.move);
  });

  // --- Dragging ----------------------------------------------------------------
  var dragged = null;
  var startIndex = -1;
  var dropped = false;

  document.addEventListener("dragstart", function (event) {
    var item = event.target.closest && event.target.closest(".step-order-movable .step-order-item");
    if (!item || saving) {
      return;
    }
    dragged = item;
    dropped = false;
    startIndex = items(item.closest(".step-order")).indexOf(item);
    item.classList.add("step-order-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.dataset.name || "");
  });

  document.addEventListener("dragover", function (event) {
    if (!dragged) {
      return;
    }
    var list = dragged.closest(".step-order");
    var over = event.target.closest && event.target.closest(".step-order-item");
    if (!over || !list.contains(over)) {
      return; // a step stays in its own thread
    }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    if (over === dragged) {
      return;
    }
    // Past the middle of the step it is over, in the way it is going, it takes that place.
    var box = over.getBoundingClientRect();
    var middle = box.top + box.height / 2;
    var all = items(list);
    var goingUp = all.indexOf(dragged) > all.indexOf(over);
    if (goingUp && event.clientY <= middle) {
      over.parentNode.insertBefore(dragged, over);
    } else if (!goingUp && event.clientY >= middle) {
      over.parentNode.insertBefore(dragged, over.nextSibling);
    }
  });

  document.addEventListener("drop", function (event) {
    if (dragged && dragged.closest(".step-order").contains(event.target)) {
      event.preventDefault();
      dropped = true;
    }
  });

  document.addEventListener("dragend", function () {
    if (!dragged) {
      return;
    }
    var item = dragged;
    var list = item.closest(".step-order");
    var from = startIndex;
    dragged = null;
    item.classList.remove("step-order-dragging");
    var to = items(list).indexOf(item);
    if (!dropped) {
      placeBack(list, item, from);
      return;
    }
    if (to !== from) {
      save(list, item, to + 1, function () { placeBack(list, item, from); }, null);
    }
  });

  function start() {
    document.querySelectorAll(".step-order-movable").forEach(prepare);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
