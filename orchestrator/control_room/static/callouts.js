// Callout pop-ups for a logged-in agent, pushed by the server over Server-Sent Events.
// Everything from the server is inserted with textContent, never as HTML: callouts carry
// data robots copied from other applications, which may contain markup.
(function () {
  "use strict";
  var body = document.body;
  var streamUrl = body.getAttribute("data-callout-stream");
  var box = document.getElementById("callouts");
  if (!streamUrl || !box || !window.EventSource) { return; }
  var KEY = "tandem.callouts.last";
  // The pop-up's own words in the page's language (base.html puts them on <body>).
  var TEXTS = {};
  try { TEXTS = JSON.parse(body.getAttribute("data-texts") || "{}"); } catch (e) { TEXTS = {}; }
  function t(text) { return TEXTS[text] || text; }
  // Shown pop-ups with the time they appeared (the callout latency benchmark reads this).
  window.tandemCallouts = window.tandemCallouts || [];

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function show(value) {
    if (value === null || value === undefined) { return ""; }
    if (Array.isArray(value)) { return value.map(show).join(", "); }
    if (typeof value === "object") { return JSON.stringify(value); }
    return String(value);
  }

  // A list (free slots, products) as lines; a long one shortened, so the pop-up stays small.
  var SHOWN_ITEMS = 5;
  function valueCell(value) {
    var cell = el("dd");
    if (!Array.isArray(value)) { cell.textContent = show(value); return cell; }
    if (!value.length) { cell.textContent = t("none"); return cell; }
    var items = el("ul", "plain");
    value.slice(0, SHOWN_ITEMS).forEach(function (item) { items.appendChild(el("li", null, show(item))); });
    if (value.length > SHOWN_ITEMS) {
      items.appendChild(el("li", "muted", t("and %(count)s more").replace("%(count)s", String(value.length - SHOWN_ITEMS))));
    }
    cell.appendChild(items);
    return cell;
  }

  // Dismissing a pop-up marks it read in the notification tray (it stays listed there).
  function markRead(id) {
    var csrf = body.getAttribute("data-csrf");
    if (!csrf || !id || !window.fetch) { return; }
    fetch("/notifications/read", {
      method: "POST", credentials: "same-origin", keepalive: true,
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded" },
      body: "ids=" + encodeURIComponent(id)
    }).then(function () {
      // Reading changes no shared data, so no event comes: refresh this page's tray now.
      document.dispatchEvent(new CustomEvent("tandem:changed", { detail: { topics: ["callouts"], at: Date.now() } }));
    });
  }

  function popUp(kind, event) {
    var item = JSON.parse(event.data);
    var card = el("section", "callout " + (item.level || "info"));
    card.setAttribute("role", "alertdialog");
    card.setAttribute("aria-label", item.title || t("Callout"));
    card.setAttribute("data-kind", kind);
    card.setAttribute("data-event-id", event.lastEventId || "");
    var close = el("button", "close", "\u00d7");
    close.setAttribute("aria-label", t("Dismiss"));
    close.addEventListener("click", function () { card.remove(); markRead(event.lastEventId); });
    card.appendChild(close);
    card.appendChild(el("h3", null, item.title || t("Callout")));
    if (item.message) { card.appendChild(el("p", null, item.message)); }
    var data = item.data || {};
    var keys = Object.keys(data);
    if (keys.length) {
      var list = el("dl", "data");
      keys.forEach(function (key) {
        list.appendChild(el("dt", null, key.replace(/_/g, " ")));
        list.appendChild(valueCell(data[key]));
      });
      card.appendChild(list);
    }
    if (item.hints && item.hints.length) {
      var hints = el("ul", "hints");
      item.hints.forEach(function (hint) { hints.appendChild(el("li", null, show(hint))); });
      card.appendChild(hints);
    }
    if (item.url) {
      var link = el("a", null, item.link_text || t("Open task"));
      link.href = item.url;  // built by the server from an id, never from gathered data
      link.addEventListener("click", function () { markRead(event.lastEventId); });
      card.appendChild(link);
    }
    box.prepend(card);
    var seen = { id: event.lastEventId, kind: kind, title: item.title, issued_at: item.issued_at,
                 inserted_at: Date.now(), shown_at: null };
    window.tandemCallouts.push(seen);
    // The next animation frame is when the pop-up is on the screen.
    window.requestAnimationFrame(function () { seen.shown_at = Date.now(); });
    if (event.lastEventId) { sessionStorage.setItem(KEY, event.lastEventId); }
    // A live inbox shows the new row itself (static/live.js); the banner is for a page without it.
    if (kind === "task" && !document.querySelector("[data-live=inbox-rows]")) {
      var banner = document.getElementById("new-tasks");
      if (banner) { banner.classList.remove("hidden"); }
    }
  }

  function connect() {
    var last = sessionStorage.getItem(KEY);
    var url = streamUrl + (last ? (streamUrl.indexOf("?") < 0 ? "?" : "&") + "after=" + encodeURIComponent(last) : "");
    var source = new EventSource(url);
    source.addEventListener("callout", function (e) { popUp("callout", e); });
    source.addEventListener("task", function (e) { popUp("task", e); });
    source.addEventListener("ready", function () { body.setAttribute("data-callouts-ready", "yes"); });
    // What a page shows moved: static/live.js fetches the page's live regions again.
    source.addEventListener("changed", function (e) {
      document.dispatchEvent(new CustomEvent("tandem:changed", { detail: JSON.parse(e.data) }));
    });
  }
  connect();
})();
