/* Skjold consent banner. Embed with one tag:
     <script src="https://skjold.example/p/{slug}/banner.js" defer></script>
   Scripts that need consent are tagged so that the browser does not run them:
     <script type="text/plain" data-skjold-purpose="analytics" src="..."></script>
   The banner runs them once the visitor consents to their purpose. Global Privacy Control
   (navigator.globalPrivacyControl, or Sec-GPC seen by Skjold) is an opt-out without a click.
   It keeps one value in localStorage: a random consent id with the choices made. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !me.src || window.SkjoldConsent) return;
  var base = me.src.replace(/[?#].*$/, "").replace(/[^\/]*$/, "");
  var KEY = "skjold-consent:" + base;
  var MAX_AGE = 390 * 864e5; // ask again after 13 months
  var l = (navigator.language || "en").toLowerCase();
  var lang = /^(nb|no|nn)\b/.test(l) ? "nb" : /^pl\b/.test(l) ? "pl" : "en";
  var api = { choices: null, open: function () {} };
  window.SkjoldConsent = api;

  var css = new Promise(function (done) {
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = base + "banner.css";
    link.onload = link.onerror = done;
    document.head.appendChild(link);
  });
  var cfg = fetch(base + "banner.json?lang=" + lang, { credentials: "omit" })
    .then(function (r) { return r.ok ? r.json() : null; });
  Promise.all([cfg, css]).then(function (a) { if (a[0]) start(a[0]); }).catch(function () {});

  function read() {
    try { return JSON.parse(localStorage.getItem(KEY) || "null"); } catch (e) { return null; }
  }
  function write(v) {
    try { localStorage.setItem(KEY, JSON.stringify(v)); } catch (e) { /* private mode: ask next time */ }
  }
  function newID() {
    var b = new Uint8Array(16), s = "";
    crypto.getRandomValues(b);
    for (var i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
    return s;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  function start(c) {
    var purposes = c.purposes || [], t = c.text || {};
    if (!purposes.length) return;
    var gpc = navigator.globalPrivacyControl === true || c.gpc === true;
    var versions = {};
    purposes.forEach(function (p) { versions[p.name] = p.notice_version; });
    var saved = read(), box = null;

    function all(v) {
      var o = {};
      purposes.forEach(function (p) { o[p.name] = v; });
      return o;
    }
    function current(s) {
      if (!s || !s.choices || Date.now() - s.at > MAX_AGE || (gpc && !s.gpc)) return false;
      return purposes.every(function (p) { return s.versions && s.versions[p.name] === p.notice_version; });
    }
    function decide(method, choices) {
      var before = saved && saved.choices;
      saved = { id: (saved && saved.id) || newID(), choices: choices, versions: versions, at: Date.now(), gpc: gpc };
      write(saved);
      fetch(base + "consent-receipts", {
        method: "POST", credentials: "omit", keepalive: true,
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ consent_id: saved.id, method: method, choices: choices, notice_versions: versions, gpc: gpc })
      }).catch(function () {});
      close();
      // A script that ran cannot be stopped: a withdrawal takes effect on a fresh page.
      if (before && purposes.some(function (p) { return before[p.name] && !choices[p.name]; })) {
        location.reload();
        return;
      }
      apply(choices);
    }
    function close() {
      if (box) box.parentNode.removeChild(box);
      box = null;
      if (!gpc) reopen();
    }
    function reopen() {
      if (document.querySelector(".skjold-reopen")) return;
      var b = el("button", "skjold-reopen", t.settings || "Privacy settings");
      b.type = "button";
      b.onclick = function () { b.parentNode.removeChild(b); show(); };
      document.body.appendChild(b);
    }
    function show() {
      if (box) return;
      box = el("section", "skjold-banner");
      box.setAttribute("role", "region");
      box.setAttribute("aria-labelledby", "skjold-banner-title");
      box.lang = c.lang || lang;
      var h = el("h2", "skjold-title", t.title);
      h.id = "skjold-banner-title";
      var intro = el("p", "skjold-intro", t.intro + " ");
      var more = el("a", "", t.more);
      more.href = new URL(c.privacy_path || "./", base).href;
      more.target = "_blank";
      more.rel = "noopener";
      intro.appendChild(more);
      var list = el("div", "skjold-choices");
      list.hidden = true;
      purposes.forEach(function (p) {
        var row = el("div", "skjold-choice"), label = el("label"), box2 = el("input");
        box2.type = "checkbox";
        box2.name = p.name;
        box2.checked = !!(saved && saved.choices && saved.choices[p.name]);
        label.appendChild(box2);
        label.appendChild(el("span", "skjold-name", p.label || p.name));
        row.appendChild(label);
        if (p.notice) row.appendChild(el("p", "skjold-notice", p.notice));
        list.appendChild(row);
      });
      var buttons = el("div", "skjold-buttons");
      function button(text, act) {
        var b = el("button", "skjold-button", text);
        b.type = "button";
        b.setAttribute("data-skjold-action", act);
        buttons.appendChild(b);
        return b;
      }
      button(t.reject_all, "reject").onclick = function () { decide("reject_all", all(false)); };
      var choose = button(t.choose, "choose");
      choose.onclick = function () {
        if (list.hidden) {
          list.hidden = false;
          choose.textContent = t.save;
          choose.setAttribute("data-skjold-action", "save");
          list.querySelector("input").focus();
          return;
        }
        var o = {};
        list.querySelectorAll("input").forEach(function (i) { o[i.name] = i.checked; });
        decide("choose", o);
      };
      button(t.accept_all, "accept").onclick = function () { decide("accept_all", all(true)); };
      box.appendChild(h);
      box.appendChild(intro);
      box.appendChild(list);
      box.appendChild(buttons);
      document.body.appendChild(box);
    }

    api.open = function () { if (!gpc) show(); };
    if (current(saved)) {
      apply(saved.choices);
      if (!gpc) reopen();
    } else if (gpc) {
      decide("gpc", all(false));
    } else {
      show();
    }
  }

  // apply runs the tagged scripts of the purposes consented to, once each, in page order.
  function apply(choices) {
    api.choices = choices;
    document.querySelectorAll('script[type="text/plain"][data-skjold-purpose]').forEach(function (old) {
      if (choices[old.getAttribute("data-skjold-purpose")] !== true) return;
      var s = document.createElement("script");
      for (var i = 0; i < old.attributes.length; i++) {
        var a = old.attributes[i];
        if (a.name !== "type" && a.name !== "data-skjold-purpose" && a.name !== "data-type") s.setAttribute(a.name, a.value);
      }
      if (old.getAttribute("data-type")) s.type = old.getAttribute("data-type");
      if (!old.src) s.text = old.text;
      old.parentNode.replaceChild(s, old);
    });
    document.dispatchEvent(new CustomEvent("skjold:consent", { detail: choices }));
  }
})();
