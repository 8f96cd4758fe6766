// Check-in without a face, on both kiosk pages: "Check in without face" opens a keypad for a username
// (or ID) and PIN, sent to the PIN API; "Show your QR card" pauses face check-in and sends a camera
// frame to the QR API about once a second until the server reads a card (it decodes the QR itself).
//
// AttendXKioskFallback.attach(options) wires the buttons once and may be called again with new options
// (the locked kiosk after pairing). options: kiosk (the AttendXKiosk controller, to hold it), video,
// result (elements); headers() -> extra request headers (default: the CSRF header), credentials,
// intercept(response) -> true when the caller handled the answer itself (401, 5xx). Its own words come
// translated from the page, in <script id="kiosk-text"> (attendance.templatetags.attendance_words).
(function () {
  const QR_EVERY_MS = 900;
  const QR_FOR_MS = 20000;
  const SHOW_MS = 5000;
  let options = null;
  let wired = false;
  let scanning = null; // the QR scan's end time while scanning
  const TEXT = (function () {
    const node = document.getElementById("kiosk-text");
    return node ? JSON.parse(node.textContent) : {};
  })();

  function el(id) { return document.getElementById(id); }

  function cookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  function show(message, tone) {
    options.result.textContent = message;
    options.result.className = "kiosk-result tone-" + tone;
  }

  function post(url, body, json) {
    const headers = Object.assign(
      { Accept: "application/json" },
      options.headers ? options.headers() : { "X-CSRFToken": cookie("csrftoken") }
    );
    if (json) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method: "POST",
      body: json ? JSON.stringify(body) : body,
      headers: headers,
      credentials: options.credentials || "same-origin",
    }).then(function (response) {
      if (options.intercept && options.intercept(response)) return null;
      return response.json().catch(function () { return {}; }).then(function (answer) {
        return { status: response.status, body: answer };
      });
    });
  }

  function toneOf(status) { return status === 201 ? "ok" : status === 200 ? "info" : "bad"; }

  function resume() {
    setTimeout(function () { if (options.kiosk) options.kiosk.hold(false); }, SHOW_MS);
  }

  // The keypad.

  let field = null;

  function focus(input) {
    field = input;
    [el("fallback-login"), el("fallback-pin")].forEach(function (one) { one.classList.toggle("active", one === input); });
    input.focus();
  }

  function openPad() {
    if (options.kiosk) options.kiosk.hold(true);
    el("fallback-login").value = "";
    el("fallback-pin").value = "";
    el("fallback-message").textContent = "";
    el("fallback-pad").hidden = false;
    focus(el("fallback-login"));
  }

  function closePad() {
    el("fallback-pad").hidden = true;
    if (options.kiosk) options.kiosk.hold(false);
  }

  function sendPin(event) {
    event.preventDefault();
    const login = el("fallback-login").value.trim();
    const pin = el("fallback-pin").value;
    if (!login) return focus(el("fallback-login"));
    if (!pin) return focus(el("fallback-pin"));
    el("fallback-message").textContent = TEXT.checking;
    post(el("kiosk-fallback").dataset.pinApi, { login: login, pin: pin }, true)
      .then(function (answer) {
        if (!answer) return closePad();
        if (answer.status === 200 || answer.status === 201) {
          el("fallback-pad").hidden = true;
          show(answer.body.message, toneOf(answer.status));
          resume();
          return;
        }
        el("fallback-pin").value = "";
        el("fallback-message").textContent = answer.body.detail || TEXT.notRecognised;
        focus(el("fallback-pin"));
      })
      .catch(function () { el("fallback-message").textContent = TEXT.connectionTryAgain; });
  }

  // The QR card.

  function grab() {
    const video = options.video;
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.9); });
  }

  function scanOnce() {
    if (!scanning) return;
    if (Date.now() > scanning) {
      scanning = null;
      show(TEXT.noQrCard, "warn");
      resume();
      return;
    }
    grab()
      .then(function (blob) {
        const data = new FormData();
        data.append("image", blob, "frame.jpg");
        return post(el("kiosk-fallback").dataset.qrApi, data, false);
      })
      .then(function (answer) {
        if (!scanning) return;
        if (answer && answer.status === 400 && answer.body.error === "no_qr_code") {
          setTimeout(scanOnce, QR_EVERY_MS);
          return;
        }
        scanning = null;
        if (answer) show(answer.body.message || answer.body.detail || TEXT.wentWrong, toneOf(answer.status));
        resume();
      })
      .catch(function () {
        if (scanning) setTimeout(scanOnce, QR_EVERY_MS);
      });
  }

  function scanCard() {
    if (scanning || !options.video.videoWidth) return;
    if (options.kiosk) options.kiosk.hold(true);
    scanning = Date.now() + QR_FOR_MS;
    show(TEXT.holdQrCard, "idle");
    scanOnce();
  }

  function attach(given) {
    options = given;
    if (wired || !el("kiosk-fallback")) return;
    wired = true;
    el("fallback-open").addEventListener("click", openPad);
    el("fallback-qr").addEventListener("click", scanCard);
    el("fallback-cancel").addEventListener("click", closePad);
    // Not a <form>: the locked kiosk's only forms talk to the device API (tests/e2e/test_kiosk_pairing.py).
    document.querySelector(".fallback-ok").addEventListener("click", sendPin);
    el("fallback-form").addEventListener("keydown", function (event) { if (event.key === "Enter") sendPin(event); });
    el("fallback-login").addEventListener("focus", function () { focus(el("fallback-login")); });
    el("fallback-pin").addEventListener("focus", function () { focus(el("fallback-pin")); });
    document.querySelectorAll(".fallback-key[data-digit]").forEach(function (key) {
      key.addEventListener("click", function () {
        if (field.value.length < field.maxLength) field.value += key.dataset.digit;
      });
    });
    document.querySelector(".fallback-key[data-clear]").addEventListener("click", function () { field.value = ""; });
  }

  window.AttendXKioskFallback = { attach: attach };
})();
