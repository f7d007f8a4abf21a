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

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const started = await post({ action: "start" });
      if (!started.client_secret) throw new Error(started.message);
      const confirmed = await stripe.confirmCardSetup(started.client_secret, { payment_method: { card } });
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
