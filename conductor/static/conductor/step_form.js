// Show only the fieldsets of the chosen action or wait rule (all stay in the
// page, so the form works without this script).
(function () {
  function follow(selectId, prefix) {
    const select = document.getElementById(selectId);
    if (!select) return;
    const update = function () {
      document.querySelectorAll("fieldset[class*='" + prefix + "']").forEach(function (fieldset) {
        const mine = Array.from(fieldset.classList).filter(function (c) { return c.startsWith(prefix); });
        const shown = mine.some(function (c) {
          const value = c.slice(prefix.length);
          // The profile-date fields serve the anniversary rule too.
          return value === select.value || (value === "profile_date" && select.value === "anniversary");
        });
        fieldset.style.display = shown ? "" : "none";
      });
    };
    select.addEventListener("change", update);
    update();
  }
  follow("id_action", "action-");
  follow("id_rule", "wait-");
})();
