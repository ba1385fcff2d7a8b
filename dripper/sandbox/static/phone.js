// The dev phone: one column per pretend number, polling its JSON state.
(function () {
  "use strict";
  var main = document.getElementById("phones");
  var api = main.dataset.api;
  var clockApi = main.dataset.clock;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var template = document.getElementById("phone-template");
  var columns = {};  // phone (E.164) -> {node, seen}
  var POLL_MS = 1000;

  function keyword() {
    var option = document.getElementById("course").selectedOptions[0];
    return option && option.dataset.keyword ? option.dataset.keyword : "";
  }

  function call(method, url, body) {
    var options = { method: method, headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = csrf;
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw new Error(data.error || ("HTTP " + response.status)); }
        return data;
      });
    });
  }

  function digits(phone) { return phone.replace(/^\+/, ""); }
  function phoneUrl(phone) { return api + "/" + digits(phone); }

  function bubble(message) {
    var item = document.createElement("li");
    item.className = message.direction === "inbound" ? "in" : "out";
    item.dataset.id = message.id;
    item.dataset.kind = message.kind;
    var text = document.createElement("div");
    text.className = "bubble";
    text.textContent = message.body;
    item.appendChild(text);
    var meta = document.createElement("div");
    meta.className = "meta";
    var parts = [message.at];
    if (message.direction === "outbound") {
      parts.push(message.kind.replace(/_/g, " "));
      parts.push(message.status);
    }
    meta.appendChild(document.createTextNode(parts.join(" · ")));
    if (message.label) {
      var label = document.createElement("span");
      label.className = "label" + (message.needs_review ? " review" : "");
      label.textContent = " · " + message.label + " " +
        (message.confidence === null ? "" : message.confidence.toFixed(2)) +
        (message.needs_review ? " (to review)" : "");
      meta.appendChild(label);
    }
    item.appendChild(meta);
    return item;
  }

  function render(column, state) {
    var node = column.node;
    node.querySelector(".time").textContent = state.now + " " + state.zone;
    var schedule = state.schedule.map(function (s) { return s.course + ": " + s.summary; });
    node.querySelector(".schedule").textContent =
      schedule.length ? schedule.join(" | ") : "Not subscribed: text " + (keyword() || "JOIN") + " to start.";
    var thread = node.querySelector(".thread");
    var fingerprint = JSON.stringify(state.messages);
    if (fingerprint === column.fingerprint) { return; }
    column.fingerprint = fingerprint;
    var atBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 40;
    // Keyed by message id: a bubble is drawn once and replaced only when it changes
    // (its delivery status, its label), so nothing flickers or loses focus.
    var wanted = {};
    state.messages.forEach(function (message, index) {
      var key = JSON.stringify(message);
      wanted[message.id] = true;
      var existing = thread.querySelector('li[data-id="' + message.id + '"]');
      if (existing && existing.dataset.key === key) { return; }
      var item = bubble(message);
      item.dataset.key = key;
      if (existing) {
        thread.replaceChild(item, existing);
      } else {
        thread.insertBefore(item, thread.children[index] || null);
      }
    });
    Array.prototype.slice.call(thread.children).forEach(function (item) {
      if (!wanted[item.dataset.id]) { thread.removeChild(item); }
    });
    if (atBottom || state.messages.length > column.count) { thread.scrollTop = thread.scrollHeight; }
    column.count = state.messages.length;
  }

  function refresh(phone) {
    var column = columns[phone];
    if (!column) { return Promise.resolve(); }
    return call("GET", phoneUrl(phone)).then(function (state) { render(column, state); })
      .catch(function (error) { showError(column, error); });
  }

  function refreshAll() {
    return Promise.all(Object.keys(columns).map(refresh));
  }

  function showError(column, error) {
    column.node.querySelector(".error").textContent = error ? error.message : "";
  }

  function busy(column, on) {
    column.node.querySelectorAll("button, input").forEach(function (el) { el.disabled = on; });
    column.node.setAttribute("aria-busy", on ? "true" : "false");
  }

  function act(column, promise) {
    busy(column, true);
    showError(column, null);
    return promise.then(function (data) {
      if (data && data.note) { showError(column, new Error(data.note)); }
    }).catch(function (error) { showError(column, error); })
      .then(function () { busy(column, false); return refreshAll(); });
  }

  function send(column, body) {
    return act(column, call("POST", phoneUrl(column.phone) + "/messages", { body: body }));
  }

  function addColumn(info) {
    if (columns[info.phone]) { return columns[info.phone]; }
    document.getElementById("empty").hidden = true;
    var node = template.content.firstElementChild.cloneNode(true);
    node.dataset.phone = info.phone;
    node.setAttribute("aria-label", "Pretend phone " + info.display);
    node.querySelector(".number").textContent = info.display;
    node.querySelector(".country").textContent = info.country + " · " + info.zone;
    var column = { phone: info.phone, node: node, fingerprint: null, count: 0 };
    columns[info.phone] = column;
    var join = node.querySelector(".chip.join");
    // A course's keyword is how a text asks to join that course (JOIN: the default one).
    join.textContent = keyword() || "JOIN";
    node.querySelectorAll(".chip").forEach(function (chip) {
      chip.addEventListener("click", function () { send(column, chip.textContent); });
    });
    node.querySelector(".compose").addEventListener("submit", function (event) {
      event.preventDefault();
      var input = node.querySelector(".compose input");
      var body = input.value;
      if (!body.trim()) { return; }
      send(column, body).then(function () { input.value = ""; input.focus(); });
    });
    node.querySelectorAll(".clock button").forEach(function (button) {
      button.addEventListener("click", function () {
        act(column, call("POST", clockApi, { step: button.dataset.step, phone: digits(info.phone) }));
      });
    });
    node.querySelector(".reset").addEventListener("click", function () {
      if (window.confirm("Forget everything about " + info.display + "?")) {
        act(column, call("POST", phoneUrl(info.phone) + "/reset", {}));
      }
    });
    main.appendChild(node);
    refresh(info.phone);
    return column;
  }

  document.getElementById("new-phone").addEventListener("submit", function (event) {
    event.preventDefault();
    var button = document.getElementById("add-phone");
    button.disabled = true;
    call("POST", api, { country: document.getElementById("country").value })
      .then(function (info) {
        var column = addColumn(info);
        column.node.scrollIntoView({ inline: "start", block: "nearest" });
        column.node.querySelector(".compose input").focus();
      })
      .catch(function (error) { window.alert(error.message); })
      .then(function () { button.disabled = false; });
  });

  document.getElementById("course").addEventListener("change", function () {
    var url = new URL(window.location.href);
    url.searchParams.set("course", this.value);
    window.history.replaceState(null, "", url);
    Object.keys(columns).forEach(function (phone) {
      columns[phone].node.querySelector(".chip.join").textContent = keyword() || "JOIN";
    });
  });

  call("GET", api).then(function (data) { data.phones.forEach(addColumn); });
  window.setInterval(function () {
    if (!document.hidden) { refreshAll(); }
  }, POLL_MS);
})();
