// The job page's progress bar: poll the job's progress every second; once it is finished, reload the
// page, which then lists every outcome. Without JavaScript the page shows the state it was served with.
(function () {
  const panel = document.getElementById("job");
  if (!panel || panel.dataset.finished === "true") return;
  const bar = document.getElementById("job-progress");
  const done = document.getElementById("job-done");
  const state = document.getElementById("job-state");
  function poll() {
    fetch(panel.dataset.progressUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (progress) {
        bar.value = progress.percent;
        bar.textContent = progress.percent + "%";
        done.textContent = progress.done;
        state.textContent = progress.state_display;
        if (progress.finished) window.location.reload();
        else window.setTimeout(poll, 1000);
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }
  window.setTimeout(poll, 1000);
})();
