// The console's only script: "select all" boxes and a confirmation before irreversible actions.
document.addEventListener("change", function (ev) {
  var box = ev.target;
  var name = box.getAttribute && box.getAttribute("data-check-all");
  if (!name) return;
  document.querySelectorAll('input[name="' + name + '"]').forEach(function (b) { b.checked = box.checked; });
});
document.addEventListener("submit", function (ev) {
  var button = ev.submitter;
  if (button && button.classList.contains("danger") && button.dataset.confirm) {
    if (!window.confirm(button.dataset.confirm)) ev.preventDefault();
  }
});
