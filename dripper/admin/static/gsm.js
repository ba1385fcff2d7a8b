/* SMS encoding arithmetic, the same rules as dripper/gsm.py (tests check both
   agree on a table of cases): GSM-7 or UCS-2, and how many segments a text costs. */
(function (root) {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENDED = "^{}\\[]~|€\f";
  var REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u200b": "", "\u2022": "-", "\u00b7": "-",
    "`": "'", "\t": " "
  };
  function isBasic(ch) { return BASIC.indexOf(ch) !== -1; }
  function isExtended(ch) { return EXTENDED.indexOf(ch) !== -1; }
  function chars(text) { return Array.from(text); }  // code points, as Python iterates
  function isGsm7(text) {
    return chars(text).every(function (ch) { return isBasic(ch) || isExtended(ch); });
  }
  function countSegments(text) {
    var units, single, multi, encoding;
    if (isGsm7(text)) {
      units = chars(text).reduce(function (n, ch) { return n + (isExtended(ch) ? 2 : 1); }, 0);
      single = 160; multi = 153; encoding = "GSM-7";
    } else {
      units = text.length;  // UTF-16 code units
      single = 70; multi = 67; encoding = "UCS-2";
    }
    var segments = units === 0 ? 0 : units <= single ? 1 : Math.ceil(units / multi);
    return { encoding: encoding, units: units, segments: segments };
  }
  function bare(ch) {
    var plain = ch.normalize("NFKD").replace(/[^\x00-\x7f]/g, "");
    return plain && isGsm7(plain) ? plain : null;
  }
  function offenders(text) {
    var found = [];
    chars(text).forEach(function (ch, index) {
      if (isBasic(ch) || isExtended(ch)) { return; }
      var replacement = Object.prototype.hasOwnProperty.call(REPLACEMENTS, ch) ? REPLACEMENTS[ch] : bare(ch);
      found.push({ char: ch, index: index, replacement: replacement });
    });
    return found;
  }
  function toGsm7(text) {
    return chars(text).map(function (ch) {
      if (isBasic(ch) || isExtended(ch)) { return ch; }
      var found = offenders(ch)[0];
      return found && found.replacement !== null ? found.replacement : ch;
    }).join("");
  }
  root.DripperGSM = { countSegments: countSegments, offenders: offenders, toGsm7: toGsm7,
                      isGsm7: isGsm7, REPLACEMENTS: REPLACEMENTS };
})(typeof window !== "undefined" ? window : globalThis);
