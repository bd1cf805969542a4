/* The MFH book's scripts (loaded on every page by Jupyter Book from book/_static).
   Search results show page excerpts as raw text; typeset the maths in them with the vendored
   MathJax (no network), as soon as they appear. */
(function () {
  "use strict";
  function typesetSearchResults() {
    var results = document.getElementById("search-results");
    if (!results || !window.MutationObserver) { return; }
    var pending = null;
    var observer = new MutationObserver(function () {
      if (pending) { return; }
      pending = setTimeout(function () {
        pending = null;
        if (!window.MathJax || !window.MathJax.typesetPromise) { return; }
        observer.disconnect();
        // the search term is highlighted with a <span>, which would split a formula such as
        // \(\gamma\) in two; excerpts that hold maths keep their text without the highlight
        Array.prototype.forEach.call(results.querySelectorAll("p.context"), function (p) {
          if (!/\\\(|\\\[/.test(p.textContent)) { return; }
          Array.prototype.forEach.call(p.querySelectorAll("span.highlighted"), function (s) {
            s.replaceWith(document.createTextNode(s.textContent));
          });
          p.normalize();
        });
        window.MathJax.typesetPromise([results]).catch(function () { return null; }).then(function () {
          observer.observe(results, { childList: true, subtree: true });
        });
      }, 250);
    });
    observer.observe(results, { childList: true, subtree: true });
  }
  // "70.87 ± 5.23" in a table cell must not wrap as "70.87 ±" / "5.23": glue the "±" to both
  // numbers (mfh_lib.formatting.pm does this already; older tables get it here)
  function glueplusminus() {
    Array.prototype.forEach.call(document.querySelectorAll("main td, main th"), function (cell) {
      var walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (var node = walker.nextNode(); node; node = walker.nextNode()) {
        if (node.nodeValue.indexOf(" \u00b1 ") >= 0) {
          node.nodeValue = node.nodeValue.replace(/ \u00b1 /g, "\u00a0\u00b1\u00a0");
        }
      }
    });
  }
  function ready() {
    typesetSearchResults();
    glueplusminus();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
