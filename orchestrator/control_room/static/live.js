// Live pages: when the server says that what a page shows moved (a "changed" event on the
// callout stream, naming topics such as "tasks" or "cases"), fetch the same page again with
// the user's session and swap in the regions marked data-live whose data-live-on names one of
// the topics. The fetch names those regions (X-Tandem-Live-Regions) and the answer holds only
// them. The page works without this script: it is rendered whole on the server.
(function () {
  "use strict";
  if (!window.fetch || !window.DOMParser) { return; }
  // Each swap with the time of the change and the time it reached the screen (the benchmark
  // and the tests read this).
  window.tandemLive = window.tandemLive || [];
  var busy = false;
  var pending = null;  // topics that arrived while a fetch was under way

  function regionsFor(topics) {
    var found = [];
    document.querySelectorAll("[data-live]").forEach(function (node) {
      var on = (node.getAttribute("data-live-on") || "").split(/\s+/);
      if (topics.some(function (t) { return on.indexOf(t) >= 0; })) { found.push(node); }
    });
    return found;
  }

  // Ticked boxes (cases chosen for a bulk action) stay ticked when their rows are replaced.
  function checkedIn(node) {
    var keep = {};
    node.querySelectorAll("input[type=checkbox]:checked").forEach(function (box) {
      keep[box.name + "=" + box.value] = true;
    });
    return keep;
  }

  // The region in the answer: a whole page, or only the regions asked for, each in a
  // <template data-live-fragment> (pages/fragments.py).
  function freshRegion(doc, name) {
    var css = '[data-live="' + name + '"]';
    var found = doc.querySelector(css);
    doc.querySelectorAll("template[data-live-fragment]").forEach(function (holder) {
      found = found || holder.content.querySelector(css);
    });
    return found;
  }

  function isField(node) {
    return node.matches("input, textarea, select, button, [contenteditable]");
  }

  function swap(regions, doc) {
    var swapped = 0;
    regions.forEach(function (old) {
      var name = old.getAttribute("data-live");
      var fresh = freshRegion(doc, name);
      if (!fresh) { return; }
      // Never pull a field away from someone typing in it (a focused link, such as a step
      // picture opened in another tab, does not hold the region still).
      if (old.contains(document.activeElement) && isField(document.activeElement)) { return; }
      if (old.innerHTML === fresh.innerHTML) { return; }
      var keep = checkedIn(old);
      var node = document.importNode(fresh, true);
      node.querySelectorAll("input[type=checkbox]").forEach(function (box) {
        if (keep[box.name + "=" + box.value]) { box.checked = true; }
      });
      old.replaceWith(node);
      swapped += 1;
    });
    return swapped;
  }

  function refresh(topics, changedAt) {
    var regions = regionsFor(topics);
    if (!regions.length) { return; }
    if (busy) { pending = (pending || []).concat(topics); return; }
    busy = true;
    var requested = Date.now();
    var names = regions.map(function (node) { return node.getAttribute("data-live"); }).join(" ");
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Tandem-Live-Regions": names } })
      .then(function (response) {
        if (!response.ok || response.redirected) { throw new Error("status " + response.status); }
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var swapped = swap(regionsFor(topics), doc);
        var seen = { topics: topics, changed_at: changedAt, requested_at: requested, swapped: swapped,
                     bytes: html.length, inserted_at: Date.now(), shown_at: null };
        window.tandemLive.push(seen);
        window.requestAnimationFrame(function () { seen.shown_at = Date.now(); });
      })
      .catch(function () { /* the next change tries again; a reload always works */ })
      .then(function () {
        busy = false;
        if (pending) { var next = pending; pending = null; refresh(next, Date.now()); }
      });
  }

  // "step `book` 3 s": a robot's time at its step counts on between changes (the server
  // renders the seconds; the page adds those that passed since).
  window.setInterval(function () {
    document.querySelectorAll("[data-elapsed]").forEach(function (node) {
      if (!node.hasAttribute("data-t0")) { node.setAttribute("data-t0", String(Date.now())); }
      var passed = Math.floor((Date.now() - Number(node.getAttribute("data-t0"))) / 1000);
      node.textContent = (Number(node.getAttribute("data-elapsed")) + passed) + " s";
    });
  }, 1000);

  document.addEventListener("tandem:changed", function (event) {
    refresh(event.detail.topics || [], event.detail.at || Date.now());
  });
})();
