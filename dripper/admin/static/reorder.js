/* Reordering lessons by drag and drop (the HTML5 DnD API); the Up and Down buttons are
   the keyboard's way and work without script. The new order is posted with the CSRF
   token, then the page reloads to show the saved draft. */
(function () {
  "use strict";
  var list = document.getElementById("lessons");
  if (!list) { return; }
  var token = document.querySelector('meta[name="csrf-token"]').content;
  var dragged = null;
  function save() {
    var keys = Array.from(list.querySelectorAll("li.lesson")).map(function (li) { return li.dataset.key; });
    var body = new URLSearchParams({ order: keys.join(","), csrf_token: token });
    fetch(list.dataset.orderUrl, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": token }
    }).then(function (response) {
      if (response.ok) { window.location.reload(); } else { alert("The new order was not saved."); }
    });
  }
  list.addEventListener("dragstart", function (event) {
    dragged = event.target.closest("li.lesson");
    if (!dragged) { return; }
    dragged.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.dataset.key);
  });
  list.addEventListener("dragover", function (event) {
    var over = event.target.closest("li.lesson");
    if (!dragged || !over || over === dragged) { return; }
    event.preventDefault();
    var box = over.getBoundingClientRect();
    var after = event.clientY > box.top + box.height / 2;
    list.insertBefore(dragged, after ? over.nextSibling : over);
  });
  list.addEventListener("drop", function (event) { event.preventDefault(); });
  list.addEventListener("dragend", function () {
    if (!dragged) { return; }
    dragged.classList.remove("dragging");
    dragged = null;
    save();
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });
})();
