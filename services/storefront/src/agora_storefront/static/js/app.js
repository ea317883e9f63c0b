// Agora storefront: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  // Escape closes the search suggestions and returns focus to the search box.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var box = document.getElementById("suggestions");
    if (box && box.contains(document.activeElement)) {
      document.getElementById("q").focus();
    }
    if (box) { box.innerHTML = ""; }
  });
})();
