// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // Live character count: <textarea data-count-target="id"> updates each [data-counter] element inside #id,
  // whose data-limit and data-unit ("char" or "byte") say what the channel allows.
  function utf8Length(text) { return new TextEncoder().encode(text).length; }
  function updateCounters(area) {
    var box = document.getElementById(area.dataset.countTarget);
    if (!box) return;
    box.querySelectorAll("[data-counter]").forEach(function (el) {
      var limit = parseInt(el.dataset.limit, 10);
      var used = el.dataset.unit === "byte" ? utf8Length(area.value) : Array.from(area.value).length;
      el.querySelector(".used").textContent = used;
      el.classList.toggle("over", used > limit);
    });
  }
  // Confirmation for destructive buttons: <button data-confirm="...">.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-confirm]");
    if (btn && !window.confirm(btn.dataset.confirm)) ev.preventDefault();
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-count-target]").forEach(function (area) {
      area.addEventListener("input", function () { updateCounters(area); });
      updateCounters(area);
    });
  });
})();
