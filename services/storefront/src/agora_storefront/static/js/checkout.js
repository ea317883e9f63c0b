// Agora checkout: hand the card to the payment provider's tokeniser, send the shop the token.
// The card inputs have no name attribute, so the form itself can never send them.
(function () {
  "use strict";
  var form = document.getElementById("checkout");
  if (!form) { return; }
  var number = document.getElementById("card_number");
  var expiry = document.getElementById("card_expiry");
  var cvc = document.getElementById("card_cvc");
  var token = document.getElementById("payment_token");
  var error = document.getElementById("card_number-error");
  var button = document.getElementById("place-order");
  var sending = false;

  function fail(message) {
    error.textContent = message;
    number.setAttribute("aria-invalid", "true");
    number.setAttribute("aria-describedby", "card_number-error card-note");
    number.focus();
    button.disabled = false;
    sending = false;
  }

  // "MM/YY" (or "MM/YYYY") as the month and the four-digit year, or null.
  function readExpiry(text) {
    var found = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(text);
    if (!found) { return null; }
    var year = parseInt(found[2], 10);
    return { month: parseInt(found[1], 10), year: year < 100 ? 2000 + year : year };
  }

  function tokenise() {
    var when = readExpiry(expiry.value);
    if (!when) { fail("Enter the expiry date as MM/YY."); return; }
    var card = {
      number: number.value.trim(),
      exp_month: when.month,
      exp_year: when.year,
      cvc: cvc.value.trim()
    };
    fetch(form.dataset.tokenUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ card: card })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (answer) {
      if (!answer.ok || !answer.body.id) {
        var reason = answer.body && answer.body.error && answer.body.error.message;
        fail(reason || "The card was not accepted. Check the details and try again.");
        return;
      }
      number.value = expiry.value = cvc.value = "";
      token.value = answer.body.id;
      form.submit();
    }).catch(function () {
      fail("The payment provider cannot be reached. Please try again in a moment.");
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sending) { return; } // a double click sends one form
    if (!number.value.trim()) {
      if (token.value) { sending = true; button.disabled = true; form.submit(); return; }
      fail("Enter your card number.");
      return;
    }
    sending = true;
    button.disabled = true;
    error.textContent = "";
    tokenise();
  });
})();
