// Small progressive enhancements; every page works without this file (the server checks everything again).
(function () {
  "use strict";
  function utf8Length(text) { return new TextEncoder().encode(text).length; }
  function chars(text) { return Array.from(text).length; }

  // Live count per channel: <textarea data-count-target="id"> updates each [data-counter] inside #id.
  // data-unit: "title" = characters of the form's [data-count-source=title] field (template keyword limit),
  // "message" = UTF-8 bytes of the text a customer-service / mass message carries ("【title】\nbody"),
  // "char" / "byte" = the textarea alone.
  function updateCounters(area) {
    var box = document.getElementById(area.dataset.countTarget);
    if (!box) return;
    var titleInput = area.form && area.form.querySelector("[data-count-source=title]");
    var title = titleInput ? titleInput.value.trim() : "";
    var body = area.value.trim();
    box.querySelectorAll("[data-counter]").forEach(function (el) {
      var unit = el.dataset.unit, used;
      if (unit === "title") used = chars(title);
      else if (unit === "message") used = utf8Length("【" + title + "】\n" + body);
      else if (unit === "byte") used = utf8Length(area.value);
      else used = chars(area.value);
      el.querySelector(".used").textContent = used;
      el.classList.toggle("over", used > parseInt(el.dataset.limit, 10));
    });
  }
  // Confirmation for destructive buttons: <button data-confirm="...">.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-confirm]");
    if (btn && !window.confirm(btn.dataset.confirm)) ev.preventDefault();
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-count-target]").forEach(function (area) {
      var update = function () { updateCounters(area); };
      area.addEventListener("input", update);
      var titleInput = area.form && area.form.querySelector("[data-count-source=title]");
      if (titleInput) titleInput.addEventListener("input", update);
      update();
    });
  });
})();
