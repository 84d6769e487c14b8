// The binding-code sheet's 打印 button (inline handlers are refused by the console's CSP).
document.addEventListener("click", function (ev) {
  if (ev.target.closest("[data-print]")) window.print();
});
