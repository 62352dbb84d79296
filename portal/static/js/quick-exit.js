/* Quick exit: leave for a neutral site at once, and replace this page in the history so
   the Back button does not return to it. Works from the button or the Escape key pressed
   twice. Without JavaScript the button is still an ordinary link to the neutral site. */
(function () {
  var button = document.getElementById("quick-exit");
  if (!button) { return; }
  function leave(event) {
    if (event) { event.preventDefault(); }
    document.body.style.visibility = "hidden";
    window.location.replace(button.href);
  }
  button.addEventListener("click", leave);
  var lastEscape = 0;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var now = Date.now();
    if (now - lastEscape < 600) { leave(event); }
    lastEscape = now;
  });
}());
