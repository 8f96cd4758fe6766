// Webcam enrollment: show the camera, capture one frame as a JPEG and submit it through the same
// form as uploads. Without a camera the upload form keeps working.
(function () {
  const video = document.getElementById("camera-video");
  const status = document.getElementById("camera-status");
  const button = document.getElementById("capture-button");
  const form = document.getElementById("enroll-form");
  const input = document.getElementById("id_photos");
  const source = document.getElementById("id_source");
  if (!video || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    if (status) status.textContent = "No camera available here: upload photos instead.";
    return;
  }
  navigator.mediaDevices
    .getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false })
    .then(function (stream) {
      video.srcObject = stream;
      video.addEventListener("loadeddata", function () {
        status.textContent = "Look at the camera, then take the photo.";
        button.disabled = false;
      });
    })
    .catch(function () {
      status.textContent = "The camera could not be opened: upload photos instead.";
    });
  button.addEventListener("click", function () {
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    button.disabled = true;
    status.textContent = "Enrolling…";
    canvas.toBlob(
      function (blob) {
        const transfer = new DataTransfer();
        transfer.items.add(new File([blob], "webcam-" + Date.now() + ".jpg", { type: "image/jpeg" }));
        input.files = transfer.files;
        source.value = "webcam";
        form.submit();
      },
      "image/jpeg",
      0.92
    );
  });
})();
