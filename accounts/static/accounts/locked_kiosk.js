// The locked kiosk (/kiosk/, docs/devices.md). Not paired: a pairing form, filled from ?code= when a QR
// code opened the page. Paired: the device token lives in localStorage (it survives reloads and browser
// restarts), the page checks in through AttendXKiosk (attendance/kiosk.js) with `Authorization: Bearer`,
// no cookie and no CSRF, and holds on to the screen as far as a page can: full screen again after
// every exit, no context menu, selection, drag or the navigation shortcuts it is shown. Leaving takes a
// 3-second press on the device name and the staff PIN. Server unreachable: a banner, and retries with
// backoff until it answers; a revoked token (401): back to the pairing form. Its words come with the
// page (#locked-kiosk-text, in the reader's language), numbers put in place of their %(name)s.
(function () {
  const root = document.getElementById("locked-kiosk");
  const el = function (id) { return document.getElementById(id); };
  const TEXT = JSON.parse(el("locked-kiosk-text").textContent);
  const say = function (text, values) {
    return text.replace(/%\((\w+)\)s/g, function (all, name) { return name in values ? values[name] : all; });
  };
  const STORE = "attendx.kiosk.token";
  const HOLD_TO_LEAVE_MS = 3000;
  const REFRESH_MS = 60000; // the device and its open sessions
  const RETRY_FIRST_MS = 1000;
  const RETRY_MAX_MS = 30000;
  const PIN_IDLE_MS = 60000;

  let kiosk = null; // the AttendXKiosk controller while paired
  let leaving = false;
  let offline = false;
  let retryMs = RETRY_FIRST_MS;
  let retryTimer = null;
  let refreshTimer = null;

  // The credential.

  function token() {
    try { return window.localStorage.getItem(STORE); } catch (error) { return null; }
  }

  function keepToken(secret) {
    window.localStorage.setItem(STORE, secret);
  }

  function forgetToken() {
    try { window.localStorage.removeItem(STORE); } catch (error) { /* storage disabled: nothing kept */ }
  }

  function api(url, method, payload) {
    const headers = { Accept: "application/json" };
    const secret = token();
    if (secret) headers.Authorization = "Bearer " + secret;
    if (payload) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method: method,
      headers: headers,
      credentials: "omit", // the token alone speaks for the kiosk, never a session cookie
      cache: "no-store",
      body: payload ? JSON.stringify(payload) : undefined,
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { status: response.status, body: body, response: response };
      });
    });
  }

  // Server unreachable: a banner, and /me (or /healthz, unpaired) again with backoff.

  function unreachable() {
    if (leaving) return;
    if (!offline) {
      offline = true;
      retryMs = RETRY_FIRST_MS;
      el("locked-banner").hidden = false;
      root.classList.add("offline");
      if (kiosk) kiosk.hold(true);
    }
    if (retryTimer) return;
    const wait = retryMs;
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    el("locked-banner-wait").textContent = wait >= 4000 ? " " + say(TEXT.retryIn, { seconds: Math.round(wait / 1000) }) : "";
    retryTimer = setTimeout(function () {
      retryTimer = null;
      el("locked-banner-wait").textContent = "…";
      ping();
    }, wait);
  }

  function reachable() {
    if (!offline) return;
    offline = false;
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
    el("locked-banner").hidden = true;
    root.classList.remove("offline");
    if (kiosk) kiosk.hold(false);
  }

  function ping() {
    if (!token()) {
      fetch(root.dataset.health, { credentials: "omit", cache: "no-store" })
        .then(function (response) { if (response.status < 500) reachable(); else unreachable(); })
        .catch(unreachable);
      return;
    }
    refreshDevice();
  }

  // Answers every request of the page goes through: true when it was handled here.
  function troubled(response) {
    if (response.status === 401 && token()) {
      unpaired(TEXT.unpaired);
      return true;
    }
    if (response.status >= 500) {
      unreachable();
      return true;
    }
    reachable();
    return false;
  }

  // Paired.

  function showDevice(device) {
    el("device-name").textContent = device.name;
    const open = device.sessions_open || [];
    const lines = open.map(function (session) {
      const ends = new Date(session.ends_at);
      const time = isNaN(ends) ? "" : ends.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
      const until = time ? " · " + say(TEXT.until, { time: time }) : "";
      return session.title + " · " + session.group + until;
    });
    const where = device.location ? device.location + ": " : "";
    el("device-sessions").textContent = where + (lines.length ? lines.join(" — ") : TEXT.noSession);
  }

  function refreshDevice() {
    return api(root.dataset.meApi, "GET")
      .then(function (answer) {
        if (troubled(answer.response)) return;
        if (answer.status === 200) showDevice(answer.body);
      })
      .catch(unreachable);
  }

  function paired(device) {
    el("locked-pairing").hidden = true;
    el("locked-paired").hidden = false;
    if (device) showDevice(device);
    else refreshDevice();
    if (refreshTimer) clearInterval(refreshTimer);
    refreshTimer = setInterval(function () { if (!offline) refreshDevice(); }, REFRESH_MS);
    if (kiosk) kiosk.stop();
    kiosk = window.AttendXKiosk.start({
      api: root.dataset.checkInApi,
      video: el("kiosk-video"),
      hint: el("kiosk-hint"),
      result: el("kiosk-result"),
      button: el("kiosk-capture"),
      prompt: el("kiosk-prompt"),
      credentials: "omit",
      headers: function () { return { Authorization: "Bearer " + token() }; },
      intercept: troubled,
      unreachable: unreachable,
      noCamera: TEXT.noCamera,
      cameraFailed: TEXT.cameraFailed,
    });
    if (offline) kiosk.hold(true);
    window.AttendXKioskFallback.attach({
      kiosk: kiosk,
      video: el("kiosk-video"),
      result: el("kiosk-result"),
      credentials: "omit",
      headers: function () { return { Authorization: "Bearer " + token() }; },
      intercept: troubled,
    });
  }

  // Not paired.

  function unpaired(reason) {
    forgetToken();
    if (kiosk) kiosk.stop();
    kiosk = null;
    if (refreshTimer) clearInterval(refreshTimer);
    closePinPad();
    el("locked-paired").hidden = true;
    el("locked-pairing").hidden = false;
    pairMessage(reason || "", reason ? "bad" : "");
    el("pair-code").focus();
  }

  function pairMessage(text, tone) {
    const box = el("pair-message");
    box.textContent = text;
    box.className = "pair-message" + (tone ? " tone-" + tone : "");
  }

  function pairWith(code) {
    const button = el("pair-submit");
    button.disabled = true;
    pairMessage("Pairing…", "idle");
    api(root.dataset.pairApi, "POST", { code: code })
      .then(function (answer) {
        if (answer.status >= 500) {
          unreachable();
          pairMessage(TEXT.pairUnreachable, "bad");
          return;
        }
        reachable();
        if (answer.status === 201 && answer.body.token) {
          keepToken(answer.body.token);
          el("pair-code").value = "";
          pairMessage("", "");
          paired(answer.body.device);
          return;
        }
        if (answer.status === 429) {
          const wait = parseInt(answer.response.headers.get("Retry-After") || "60", 10);
          pairMessage(say(TEXT.pairWait, { seconds: wait }), "warn");
          return;
        }
        pairMessage(answer.body.detail || TEXT.pairFailed, "bad");
      })
      .catch(function () {
        unreachable();
        pairMessage(TEXT.pairUnreachable, "bad");
      })
      .finally(function () { button.disabled = false; });
  }

  el("pair-form").addEventListener("submit", function (event) {
    event.preventDefault();
    const code = el("pair-code").value.trim();
    if (!code) {
      pairMessage(TEXT.typeCode, "warn");
      return;
    }
    pairWith(code);
  });

  // Leaving: a long press on the device name, then the staff PIN.

  let holdTimer = null;
  let pinIdle = null;

  function pinMessage(text, tone) {
    const box = el("pin-message");
    box.textContent = text;
    box.className = "pin-message" + (tone ? " tone-" + tone : "");
  }

  function touchPinPad() {
    if (pinIdle) clearTimeout(pinIdle);
    pinIdle = setTimeout(closePinPad, PIN_IDLE_MS);
  }

  function openPinPad() {
    el("pin-input").value = "";
    pinMessage("", "");
    el("pin-pad").hidden = false;
    el("pin-input").focus();
    touchPinPad();
  }

  function closePinPad() {
    if (pinIdle) clearTimeout(pinIdle);
    el("pin-input").value = "";
    el("pin-pad").hidden = true;
  }

  function leave() {
    leaving = true;
    forgetToken();
    if (kiosk) kiosk.stop();
    const signIn = root.dataset.signIn;
    const go = function () { window.location.replace(signIn); };
    if (document.fullscreenElement && document.exitFullscreen) document.exitFullscreen().then(go, go);
    else go();
  }

  function unlock(pin) {
    el("pin-ok").disabled = true;
    pinMessage("Checking…", "idle");
    api(root.dataset.unlockApi, "POST", { pin: pin })
      .then(function (answer) {
        if (answer.status === 200 && answer.body.unpaired) {
          pinMessage(TEXT.unlocked, "ok");
          leave();
          return;
        }
        if (troubled(answer.response)) return;
        el("pin-input").value = "";
        if (answer.status === 429) {
          const wait = parseInt(answer.response.headers.get("Retry-After") || "60", 10);
          pinMessage(say(TEXT.pinWait, { seconds: wait }), "warn");
        } else if (answer.body.error === "wrong_pin") {
          pinMessage(TEXT.wrongPin, "bad");
        } else {
          pinMessage(answer.body.detail || TEXT.cannotUnlock, "bad");
        }
      })
      .catch(function () {
        unreachable();
        pinMessage(TEXT.pinUnreachable, "bad");
      })
      .finally(function () { el("pin-ok").disabled = false; });
  }

  const name = el("device-name");
  function cancelHold() {
    if (holdTimer) clearTimeout(holdTimer);
    holdTimer = null;
  }
  name.addEventListener("pointerdown", function () {
    cancelHold();
    holdTimer = setTimeout(function () { holdTimer = null; openPinPad(); }, HOLD_TO_LEAVE_MS);
  });
  ["pointerup", "pointercancel", "pointerleave"].forEach(function (type) { name.addEventListener(type, cancelHold); });

  el("pin-pad").addEventListener("click", function (event) {
    touchPinPad();
    const digit = event.target.dataset && event.target.dataset.digit;
    const input = el("pin-input");
    if (digit && input.value.length < 12) input.value += digit;
  });
  el("pin-input").addEventListener("input", touchPinPad);
  el("pin-clear").addEventListener("click", function () { el("pin-input").value = ""; pinMessage("", ""); });
  el("pin-cancel").addEventListener("click", closePinPad);
  el("pin-form").addEventListener("submit", function (event) {
    event.preventDefault();
    const pin = el("pin-input").value;
    if (!pin) {
      pinMessage(TEXT.typePin, "warn");
      return;
    }
    unlock(pin);
  });

  // Holding on to the screen. A page cannot stop Alt+F4, Ctrl+Alt+Del or a switch to another app:
  // the browser's kiosk mode and the operating system's assigned-access mode do that (docs/devices.md).

  function fullScreen() {
    const page = document.documentElement;
    if (document.fullscreenElement || !page.requestFullscreen) return;
    page.requestFullscreen({ navigationUI: "hide" }).then(function () {
      // In full screen Chromium lets a page take Escape and other system keys (Keyboard Lock API).
      if (navigator.keyboard && navigator.keyboard.lock) navigator.keyboard.lock().catch(function () {});
    }).catch(function () { /* no user gesture yet, or not allowed: the next tap tries again */ });
  }

  function fillsScreen() {
    return window.innerWidth >= screen.width && window.innerHeight >= screen.height;
  }

  function showFullScreenHint() {
    el("fullscreen-hint").hidden = !!document.fullscreenElement || fillsScreen() || leaving;
  }

  // Browsers grant full screen only in answer to a gesture: every tap asks again while it is off.
  document.addEventListener("pointerdown", fullScreen, true);
  document.addEventListener("keydown", fullScreen, true);
  document.addEventListener("fullscreenchange", showFullScreenHint);
  window.addEventListener("resize", showFullScreenHint);

  function editable(target) {
    return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA");
  }

  const CTRL_KEYS = ["r", "l", "w", "n", "t", "p", "s", "o", "u", "f", "g", "h", "j", "d", "e", "k", "q", "+", "-", "=", "0"];
  const PLAIN_KEYS = ["F1", "F3", "F5", "F6", "F7", "F11", "F12", "Escape", "BrowserBack", "BrowserForward",
    "BrowserRefresh", "BrowserHome", "BrowserSearch", "ContextMenu"];
  window.addEventListener("keydown", function (event) {
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const blocked =
      PLAIN_KEYS.indexOf(key) >= 0 ||
      ((event.ctrlKey || event.metaKey) && (CTRL_KEYS.indexOf(key) >= 0 || key === "Tab" || key === "F4")) ||
      (event.altKey && ["ArrowLeft", "ArrowRight", "Home", "F4"].indexOf(key) >= 0) ||
      (key === "Backspace" && !editable(event.target));
    if (!blocked) return;
    event.preventDefault();
    event.stopPropagation();
    if (key === "Escape" && !el("pin-pad").hidden) closePinPad();
  }, true);
  ["contextmenu", "dragstart", "drop", "gesturestart"].forEach(function (type) {
    document.addEventListener(type, function (event) { event.preventDefault(); }, true);
  });
  document.addEventListener("wheel", function (event) {
    if (event.ctrlKey) event.preventDefault(); // zoom
  }, { capture: true, passive: false });
  document.addEventListener("selectstart", function (event) {
    if (!editable(event.target)) event.preventDefault();
  }, true);
  window.addEventListener("beforeunload", function (event) {
    if (!token() || leaving) return;
    event.preventDefault();
    event.returnValue = "";
  });

  // Start: paired when a token is kept; else the form, submitted at once when the QR code gave a code.
  const code = new URLSearchParams(window.location.search).get("code");
  if (code !== null) history.replaceState(null, "", window.location.pathname);
  // Back (a mouse button, a swipe) lands on a copy of this page, which puts itself back.
  history.pushState({ locked: true }, "", window.location.pathname);
  window.addEventListener("popstate", function () { history.pushState({ locked: true }, "", window.location.pathname); });
  showFullScreenHint();
  if (token()) {
    paired(null);
  } else {
    unpaired("");
    if (code) {
      el("pair-code").value = code;
      pairWith(code);
    }
  }
})();
