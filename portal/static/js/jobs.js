/* Follows the background jobs still running: asks each one's progress every 3 seconds
   and updates its bar and text (worded by the server); once every job has finished, reloads the page once so
   results (a file to download, failures to retry) appear. */
(function () {
  if (!window.fetch) { return; }
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-status-url]"));
  if (!rows.length) { return; }
  function poll() {
    var pending = rows.filter(function (row) { return row.hasAttribute("data-status-url"); });
    if (!pending.length) { window.location.reload(); return; }
    pending.forEach(function (row) {
      fetch(row.getAttribute("data-status-url"), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (job) {
          if (!job) { return; }
          var bar = row.querySelector("progress");
          var text = row.querySelector(".job-status");
          if (bar) { bar.value = job.percent; bar.textContent = job.percent + " %"; }
          if (text) { text.textContent = job.text; }
          if (job.status === "done" || job.status === "failed") {
            row.removeAttribute("data-status-url");
          }
        })
        .catch(function () { /* try again next time */ });
    });
  }
  window.setInterval(poll, 3000);
}());
