// Kiosk: every INTERVAL_MS (or on the button) grab a short burst of frames from the camera, send them
// to the check-in API in one request with an Idempotency-Key, and show the answer large enough to read
// from two metres. A mark needs frames that agree (docs/api.md): the burst brings them in one request,
// with or without Redis; while a face is "agreeing", or asked to do a liveness challenge ("Please turn
// your head to the left"), the prompt shows large and the next burst follows at once.
//
// Each face's answer has its own colour (tone): on time green, late amber (the message says "late"
// too), already checked in neutral, checked out blue, review and unknown grey; several faces show as a
// list, one line each. No face, or no session running, is calm information, never an error: the words
// are the server's (translated there), as are all the messages shown.
//
// AttendXKiosk.start(options) runs it on any page: the signed-in kiosk page below (session cookie and
// CSRF header) and the locked kiosk (accounts/locked_kiosk.js: a bearer token, its own error handling).
// Its own words come translated from the page, in <script id="kiosk-text">
// (attendance.templatetags.attendance_words).
(function () {
  const INTERVAL_MS = 1500;
  const BURST = 4; // frames per request: enough motion for the liveness judge
  const BURST_GAP_MS = 120; // between the frames of a burst
  const WAITING = ["agreeing", "challenge", "not_live"];
  const SHOW_RESULT_MS = 4000;
  const NO_SESSION_PAUSE_MS = 15000; // nothing to check in to: ask again now and then, not every burst
  const TEXT = (function () {
    const node = document.getElementById("kiosk-text");
    return node ? JSON.parse(node.textContent) : {};
  })();
  const TONES = {
    checked_in: "ok", checked_out: "out", already_checked_in: "info", session_ended: "info", review: "unsure", unknown: "unsure",
  };

  function cookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  // As attendance.views.kiosk_tone for the staff upload form.
  function toneOf(face) {
    if (face.result === "checked_in" && face.record && face.record.status === "late") return "late";
    return TONES[face.result] || "idle";
  }

  // options: api (URL), video, hint, result, button, prompt (elements); and, all optional:
  // headers() -> extra request headers (default: the CSRF header of the session cookie),
  // credentials (fetch's, default "same-origin"),
  // intercept(response) -> true when the caller handled the answer itself (e.g. 401, 5xx),
  // unreachable(error) -> called when the request failed on the way (default: a message),
  // noCamera (the hint when there is no camera).
  // Returns {hold(flag), stop()}: hold pauses sending without closing the camera; stop closes it.
  function start(options) {
    const video = options.video;
    const hint = options.hint;
    const result = options.result;
    const button = options.button;
    const prompt = options.prompt;
    const noCamera = options.noCamera || TEXT.noCamera;
    let busy = false;
    let pausedUntil = 0;
    let held = false;
    let stopped = false;
    let timer = null;
    let stream = null;

    function show(message, tone) {
      result.textContent = message;
      result.className = "kiosk-result tone-" + tone;
    }

    // One face: its message in its colour. Several: a list, one line (and colour) per face.
    function showFaces(faces) {
      if (faces.length === 1) {
        show(faces[0].message, toneOf(faces[0]));
        return;
      }
      const list = document.createElement("ul");
      list.className = "kiosk-faces";
      faces.forEach(function (face) {
        const line = document.createElement("li");
        line.className = "kiosk-face tone-" + toneOf(face);
        line.textContent = face.message;
        list.appendChild(line);
      });
      result.replaceChildren(list);
      result.className = "kiosk-result tone-list";
    }

    function ask(words) {
      prompt.textContent = words || "";
      prompt.hidden = !words;
    }

    function headers() {
      const extra = options.headers ? options.headers() : { "X-CSRFToken": cookie("csrftoken") };
      return Object.assign({ "Idempotency-Key": newKey(), Accept: "application/json" }, extra);
    }

    function send(blobs) {
      const data = new FormData();
      blobs.forEach(function (blob, i) { data.append("image", blob, "frame-" + i + ".jpg"); });
      return fetch(options.api, {
        method: "POST",
        body: data,
        credentials: options.credentials || "same-origin",
        headers: headers(),
      }).then(function (response) {
        if (options.intercept && options.intercept(response)) return null;
        return response.json().then(function (body) { return { status: response.status, body: body, response: response }; });
      });
    }

    function grab() {
      const canvas = document.createElement("canvas");
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.9); });
    }

    function burst() {
      const frames = [];
      function next() {
        return grab().then(function (blob) {
          frames.push(blob);
          if (frames.length >= BURST) return frames;
          return new Promise(function (resolve) { setTimeout(resolve, BURST_GAP_MS); }).then(next);
        });
      }
      return next();
    }

    function capture() {
      if (busy || held || stopped || Date.now() < pausedUntil || !video.videoWidth) return;
      busy = true;
      let again = false;
      burst()
        .then(send)
        .then(function (answer) {
          if (!answer || stopped) return;
          const body = answer.body;
          if (answer.status === 409 && body.error === "no_session") {
            show(body.detail, "calm"); // "No session now; next: Maths at 10:00"
            pausedUntil = Date.now() + NO_SESSION_PAUSE_MS;
            return;
          }
          if (answer.status >= 400) {
            const wait = parseInt(answer.response.headers.get("Retry-After") || "0", 10);
            if (wait) pausedUntil = Date.now() + wait * 1000;
            show(body.detail || TEXT.wentWrong, "bad");
            return;
          }
          const faces = body.faces || [];
          if (!faces.length) {
            show(body.message, "calm"); // "No face found — step closer"
            return;
          }
          const asking = faces.filter(function (face) { return face.result === "challenge" || face.result === "not_live"; });
          if (faces.every(function (face) { return WAITING.indexOf(face.result) >= 0; })) {
            ask(asking.length ? asking[0].message : "");
            if (!asking.length) showFaces(faces);
            again = true; // the next frames decide: no pause
            return;
          }
          ask("");
          showFaces(faces);
          pausedUntil = Date.now() + SHOW_RESULT_MS;
          setTimeout(function () { if (Date.now() >= pausedUntil) show(TEXT.look, "idle"); }, SHOW_RESULT_MS + 50);
        })
        .catch(function (error) {
          if (options.unreachable) options.unreachable(error);
          else show(TEXT.connection, "bad");
        })
        .finally(function () {
          busy = false;
          if (again) capture();
        });
    }

    const controller = {
      hold: function (flag) { held = !!flag; },
      stop: function () {
        stopped = true;
        if (timer) clearInterval(timer);
        if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
        video.srcObject = null;
        button.disabled = true;
      },
    };

    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      hint.textContent = noCamera;
      return controller;
    }
    navigator.mediaDevices
      .getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false })
      .then(function (opened) {
        if (stopped) {
          opened.getTracks().forEach(function (track) { track.stop(); });
          return;
        }
        stream = opened;
        video.srcObject = stream;
        video.addEventListener("loadeddata", function () {
          hint.textContent = TEXT.standInFront;
          button.disabled = false;
          timer = setInterval(function () { if (!document.hidden) capture(); }, INTERVAL_MS);
        }, { once: true });
      })
      .catch(function () { hint.textContent = options.cameraFailed || TEXT.cameraFailed; });
    button.addEventListener("click", function () { pausedUntil = 0; capture(); });
    return controller;
  }

  window.AttendXKiosk = { start: start };

  const root = document.getElementById("kiosk");
  if (root) {
    const page = start({
      api: root.dataset.api,
      video: document.getElementById("kiosk-video"),
      hint: document.getElementById("kiosk-hint"),
      result: document.getElementById("kiosk-result"),
      button: document.getElementById("kiosk-capture"),
      prompt: document.getElementById("kiosk-prompt"),
    });
    if (window.AttendXKioskFallback) {
      window.AttendXKioskFallback.attach({ kiosk: page, video: document.getElementById("kiosk-video"), result: document.getElementById("kiosk-result") });
    }
  }
})();
