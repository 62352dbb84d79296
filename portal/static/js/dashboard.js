/* Keeps the dashboard's live part current: fetches it again every 10 seconds (while the
   tab is visible) and replaces it in place; screen readers hear the change politely. */
(function () {
  var live = document.getElementById("live");
  if (!live || !window.fetch) { return; }
  var url = live.getAttribute("data-live-url");
  function refresh() {
    if (document.hidden) { return; }
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html) { live.innerHTML = html; } })
      .catch(function () { /* keep the figures shown; try again next time */ });
  }
  window.setInterval(refresh, 10000);
}());
