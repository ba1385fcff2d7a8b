/* The lesson editor while typing: characters and segments with the encoding, the
   characters that force UCS-2 with one-click replacements, and a phone preview. */
(function () {
  "use strict";
  var GSM = window.DripperGSM;
  function name(ch) {
    var names = { "\u2018": "left single quote", "\u2019": "right single quote", "\u201c": "left double quote",
      "\u201d": "right double quote", "\u2013": "en dash", "\u2014": "em dash", "\u2026": "ellipsis",
      "\u00a0": "no-break space" };
    return names[ch] || "U+" + ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
  }
  function update(area) {
    var counter = document.querySelector('.counter[data-for="' + area.id + '"]');
    var box = document.querySelector('.offenders[data-for="' + area.id + '"]');
    var text = area.value.replace(/\r\n/g, "\n");
    var seg = GSM.countSegments(text);
    var limit = parseInt(area.dataset.limit || "1", 10);
    if (counter) {
      counter.textContent = seg.units + " characters · " + seg.segments + " segment" +
        (seg.segments === 1 ? "" : "s") + " · " + seg.encoding + " (limit " + limit + ")";
      counter.classList.toggle("over", seg.segments > limit);
      counter.classList.toggle("ucs2", seg.encoding === "UCS-2");
      counter.dataset.segments = seg.segments;
      counter.dataset.encoding = seg.encoding;
    }
    if (box) {
      var found = GSM.offenders(text);
      box.textContent = "";
      if (found.length) {
        var p = document.createElement("p");
        p.textContent = "These characters make the whole text UCS-2 (twice the cost):";
        box.appendChild(p);
        var seen = {};
        found.forEach(function (o) {
          if (seen[o.char]) { return; }
          seen[o.char] = true;
          var mark = document.createElement("mark");
          mark.textContent = o.char === " " || o.char === "\u00a0" ? "␣" : o.char;
          mark.title = name(o.char);
          box.appendChild(mark);
          if (o.replacement !== null) {
            var button = document.createElement("button");
            button.type = "button";
            button.className = "small replace";
            button.textContent = "Replace every " + name(o.char) + " with " + JSON.stringify(o.replacement);
            button.addEventListener("click", function () {
              area.value = area.value.split(o.char).join(o.replacement);
              update(area);
              area.focus();
            });
            box.appendChild(button);
          }
        });
        var all = document.createElement("button");
        all.type = "button";
        all.className = "small replace-all";
        all.textContent = "Replace all that have a plain equivalent";
        all.addEventListener("click", function () { area.value = GSM.toGsm7(area.value); update(area); area.focus(); });
        box.appendChild(all);
      }
    }
    var preview = document.getElementById("preview-" + area.id);
    if (preview) { preview.textContent = text; }  // textContent: what is typed shows as text
  }
  document.querySelectorAll("textarea.sms").forEach(function (area) {
    area.addEventListener("input", function () { update(area); });
    update(area);
  });
})();
