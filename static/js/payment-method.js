// Saving a card for automatic reloads: our server opens a SetupIntent,
// Stripe.js confirms it with the card, our server keeps the result.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("method-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const message = document.getElementById("method-message");
  const button = document.getElementById("method-button");

  const post = async (fields) => {
    const body = new FormData(form);
    Object.entries(fields).forEach(([name, value]) => body.set(name, value));
    const response = await fetch(window.location.href, { method: "POST", body });
    return response.json();
  };

  // A bank account (SEPA Direct Debit, EUR clients): the mandate shown above the IBAN must be accepted.
  const sepa = document.getElementById("sepa-fields");
  const isSepa = () => Boolean(sepa) && form.querySelector("input[name=method_type]:checked")?.value === "sepa_debit";
  form.querySelectorAll("input[name=method_type]").forEach((radio) =>
    radio.addEventListener("change", () => {
      sepa.hidden = !isSepa();
      document.getElementById("card-fields").hidden = isSepa();
    }),
  );
  // A message about the choice or the mandate is stale once either changes.
  form.querySelectorAll("input[name=method_type], #mandate-accepted").forEach((input) =>
    input.addEventListener("change", () => {
      if (!button.disabled) message.className = "alert d-none";
    }),
  );
  // Stripe.js confirms in the browser, so Stripe records the mandate's acceptance (IP, user agent) itself.
  const confirmSetup = (secret) =>
    isSepa()
      ? stripe.confirmSepaDebitSetup(secret, {
          payment_method: {
            sepa_debit: { iban: document.getElementById("sepa-iban").value },
            billing_details: {
              name: document.getElementById("sepa-name").value,
              email: document.getElementById("sepa-email").value,
            },
          },
        })
      : stripe.confirmCardSetup(secret, { payment_method: { card } });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const started = await post({ action: "start", method_type: isSepa() ? "sepa_debit" : "card" });
      if (!started.client_secret) throw new Error(started.message);
      const confirmed = await confirmSetup(started.client_secret);
      if (confirmed.error) throw confirmed.error;
      const saved = await post({ action: "save", setup_intent: confirmed.setupIntent.id });
      if (!saved.saved) throw new Error(saved.message);
      window.location.reload();
    } catch (error) {
      message.textContent = (error && error.message) || String(error);
      message.className = "alert alert-danger";
      button.disabled = false;
    }
  });
});
