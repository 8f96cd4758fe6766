// Webcam enrollment: show the camera, capture one frame as a JPEG and submit it through the same
// form as uploads. Without a camera the upload form keeps working. Its words come from the page
// (data-* of #camera-status), in the reader's language.
(function () {
  const video = document.getElementById("camera-video");
  const status = document.getElementById("camera-status");
  const button = document.getElementById("capture-button");
  const form = document.getElementById("enroll-form");
  const input = document.getElementById("id_photos");
  const source = document.getElementById("id_source");
  if (!video || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    if (status) status.textContent = status.dataset.noCamera;
    return;
  }
  navigator.mediaDevices
    .getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false })
    .then(function (stream) {
      video.srcObject = stream;
      video.addEventListener("loadeddata", function () {
        status.textContent = status.dataset.ready;
        button.disabled = false;
      });
    })
    .catch(function () {
      status.textContent = status.dataset.failed;
    });
  button.addEventListener("click", function () {
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    button.disabled = true;
    status.textContent = status.dataset.enrolling;
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
