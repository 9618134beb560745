// The audience of a broadcast or split test page: show the saved audience
// choice or the filter builder only when that is the audience chosen, and
// keep "This broadcast reaches N contacts now" up to date as it changes
// (asked of the page's count view). Beside each choice of message, a link
// previews the one chosen. Without this script every field shows, and the
// count is the one the page was drawn with.
(function () {
  "use strict";

  function rowOf(form, name) {
    const field = form.querySelector("[name=" + name + "]");
    return field ? field.closest(".form-row") : null;
  }

  function words(count, what) {
    const contacts = count === 1 ? "1 contact" : count.toLocaleString("en") + " contacts";
    return ["This " + what + " reaches ", contacts, " now."];
  }

  function startAudience(reach) {
    const form = reach.closest("form");
    const savedRow = rowOf(form, "saved_audience");
    const criteriaRow = rowOf(form, "criteria");
    const saved = form.querySelector("[name=saved_audience]");
    const criteria = form.querySelector("[name=criteria]");
    const what = reach.dataset.what;
    let last = null;
    let asked = 0;
    let timer = null;

    function mode() {
      const chosen = form.querySelector("input[name=audience]:checked");
      return chosen ? chosen.value : "everyone";
    }

    function show() {
      if (savedRow) savedRow.style.display = mode() === "saved" ? "" : "none";
      if (criteriaRow) criteriaRow.style.display = mode() === "criteria" ? "" : "none";
    }

    function state() {
      return {
        audience: mode(),
        saved_audience: saved ? saved.value : "",
        criteria: criteria && mode() === "criteria" ? criteria.value.trim() : "",
      };
    }

    function say(parts, problem) {
      reach.classList.toggle("reach-problem", Boolean(problem));
      reach.replaceChildren();
      if (problem) {
        reach.textContent = problem;
        return;
      }
      reach.append(parts[0]);
      const strong = document.createElement("strong");
      strong.textContent = parts[1];
      reach.append(strong, parts[2]);
    }

    function count() {
      const now = state();
      const key = JSON.stringify(now);
      if (key === last) return;
      last = key;
      const mine = ++asked;
      reach.classList.add("reach-counting");
      const body = new URLSearchParams(now);
      let request;
      if (now.criteria.length < 1500) {
        request = fetch(reach.dataset.countUrl + "?" + body.toString(), { credentials: "same-origin" });
      } else {
        const token = form.querySelector("[name=csrfmiddlewaretoken]");
        request = fetch(reach.dataset.countUrl, {
          method: "POST", credentials: "same-origin", body: body,
          headers: { "X-CSRFToken": token ? token.value : "" },
        });
      }
      request.then(function (response) {
        return response.json().catch(function () { return { error: "The count failed (" + response.status + ")." }; });
      }).catch(function () {
        return { error: "The count could not be fetched." };
      }).then(function (answer) {
        if (mine !== asked) return; // a later change is being counted
        reach.classList.remove("reach-counting");
        if (answer.count !== undefined) say(words(answer.count, what), "");
        else if (now.audience === "criteria" && answer.problems) say(null, "No count yet: complete the conditions marked above.");
        else say(null, "No count yet: " + answer.error);
      });
    }

    function later() {
      clearTimeout(timer);
      timer = setTimeout(count, 300);
    }

    // The builder writes the conditions as JSON when its rows change: every
    // change inside the form is a reason to look again (nothing is asked if
    // the audience is the same).
    form.addEventListener("input", later);
    form.addEventListener("change", function () { show(); later(); });
    form.addEventListener("click", later);
    show();
    count();
  }

  function startPreviews() {
    document.querySelectorAll("select[data-preview-url]").forEach(function (select) {
      const link = document.createElement("a");
      link.className = "message-preview";
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = "Preview";
      link.title = "The chosen message as a contact would get it (in a new tab)";
      const wrapper = select.closest(".related-widget-wrapper");
      if (wrapper) wrapper.appendChild(link);
      else select.insertAdjacentElement("afterend", link);
      function update() {
        link.hidden = !select.value;
        link.href = select.value ? select.dataset.previewUrl.replace("{id}", select.value) : "#";
      }
      select.addEventListener("change", update);
      update();
    });
  }

  function start() {
    const reach = document.getElementById("audience-reach");
    if (reach && reach.closest("form")) startAudience(reach);
    startPreviews();
  }

  // The admin loads form scripts in the page's head, before the form exists.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
