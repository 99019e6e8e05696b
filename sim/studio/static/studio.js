// mercato studio's pages' script (no framework, no build step).

// A turn's answer is POSTed and answered with the page that follows it. Replacing the history
// entry with the same URL makes it a plain GET: a reload shows the current page instead of
// sending the answer again.
if (window.history && window.history.replaceState) {
  window.history.replaceState(window.history.state, "", window.location.href);
}

// Episode pages: keyboard stepping through an episode's turns (no framework, no build step).
// Left/right or k/j move between turns; the URL fragment (#t12) keeps the position.
(function () {
  "use strict";
  function turns() { return Array.prototype.slice.call(document.querySelectorAll("li.turn")); }

  function current() {
    var match = /^#t(\d+)$/.exec(window.location.hash);
    return match ? parseInt(match[1], 10) : -1;
  }

  function show(index) {
    var all = turns();
    if (!all.length) { return; }
    index = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (li) { li.classList.remove("current"); });
    var target = document.getElementById("t" + index);
    if (!target) { return; }
    target.classList.add("current");
    if (window.location.hash !== "#t" + index) { history.replaceState(null, "", "#t" + index); }
    target.scrollIntoView({ block: "start" });
    var label = document.getElementById("turn-position");
    if (label) { label.textContent = "turn " + (index + 1) + " of " + all.length; }
  }

  function step(delta) { show(current() < 0 ? 0 : current() + delta); }

  document.addEventListener("keydown", function (event) {
    var tag = (event.target && event.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || event.altKey ||
        event.ctrlKey || event.metaKey) { return; }
    if (event.key === "ArrowRight" || event.key === "j") { step(1); event.preventDefault(); }
    if (event.key === "ArrowLeft" || event.key === "k") { step(-1); event.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var prev = document.getElementById("prev-turn");
    var next = document.getElementById("next-turn");
    if (prev) { prev.addEventListener("click", function () { step(-1); }); }
    if (next) { next.addEventListener("click", function () { step(1); }); }
    if (current() >= 0) { show(current()); }
  });
  window.addEventListener("hashchange", function () { if (current() >= 0) { show(current()); } });
})();

// Play pages: a select marked data-autosubmit submits its form on change; a variant's key
// shows only the chosen branch (the others are hidden and disabled, so they are neither
// validated nor sent), nested variants too (a proposal's lines). Without JS every branch shows
// and the server reads the one value given for each field.
(function () {
  "use strict";
  function keyValue(fieldset) {
    // the fieldset's own key (a select, or radios), not a nested variant's
    var select = fieldset.querySelector(":scope > select[data-variant-key]");
    if (select) { return select.value; }
    var checked = fieldset.querySelector(
      ":scope > fieldset.choice input[data-variant-key]:checked");
    return checked ? checked.value : null;
  }

  function syncVariant(fieldset) {
    var value = keyValue(fieldset);
    Array.prototype.forEach.call(fieldset.children, function (branch) {
      if (!branch.classList || !branch.classList.contains("branch")) { return; }
      var on = value !== null && value !== "" &&
        branch.getAttribute("data-values").split("|").indexOf(value) >= 0;
      branch.hidden = !on;
      Array.prototype.forEach.call(branch.querySelectorAll("input, select, textarea"),
        function (input) {
          input.disabled = !on;
          input.required = on && input.hasAttribute("data-required");  // needed once shown
        });
      // variants inside a shown branch (a proposal's lines) apply their own choice again
      if (on) {
        Array.prototype.forEach.call(branch.querySelectorAll("fieldset.variant"), syncVariant);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("select[data-autosubmit]"),
      function (select) {
        select.addEventListener("change", function () { if (select.value) { select.form.submit(); } });
      });
    Array.prototype.forEach.call(document.querySelectorAll("fieldset.variant"), function (fieldset) {
      fieldset.classList.add("js");
      fieldset.addEventListener("change", function (event) {
        if (event.target && event.target.hasAttribute("data-variant-key")) { syncVariant(fieldset); }
      });
      // outermost variants first: a nested one is synced by its branch (off while it is hidden)
      if (!fieldset.parentElement.closest(".branch")) { syncVariant(fieldset); }
    });
  });
})();
