// Skjold console: small progressive enhancements. Every task works without this file.
"use strict";

// Idle lock [B9]: after the tenant's idle minutes without a request, cover the page and ask for
// the password. The server locks the session at the same moment and refuses it until unlocked,
// so this only keeps what is on the screen from being read.
(function idleLock() {
  var seconds = parseInt(document.body.getAttribute("data-idle-seconds") || "0", 10);
  var lock = document.getElementById("lock");
  if (!seconds || !lock) {
    return;
  }
  var start = Date.now();
  var timer = setInterval(function () {
    if (Date.now() - start < seconds * 1000) {
      return;
    }
    clearInterval(timer);
    Array.prototype.forEach.call(document.body.children, function (el) {
      if (el !== lock) {
        el.setAttribute("inert", "");
        el.setAttribute("aria-hidden", "true");
      }
    });
    document.body.classList.add("locked");
    lock.hidden = false;
    document.getElementById("lock-password").focus();
  }, 1000);
})();

// Password reset: the e-mailed link carries the reset code in the fragment (#token=…), which
// browsers never send to a server, so it cannot reach a log or a Referer header. Put it into
// the form and drop it from the address bar and history.
(function resetToken() {
  var field = document.getElementById("token");
  var m = /^#token=([A-Za-z0-9_-]+)$/.exec(window.location.hash);
  if (!field || !m) {
    return;
  }
  field.value = m[1];
  document.getElementById("token-field").classList.add("prefilled");
  history.replaceState(null, "", window.location.pathname);
  var pw = document.getElementById("password");
  if (pw) {
    pw.focus();
  }
})();
