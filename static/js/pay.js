// The pay page: Stripe.js collects the card in its own field and creates a
// payment method; our server charges it on the invoice's PaymentIntent (the
// amount is the invoice's, never the page's). No inline script: CSP.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("pay-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.publishableKey);
  const elements = stripe.elements();
  const card = elements.create("card");
  card.mount("#card-element");
  const message = document.getElementById("pay-message");
  const button = document.getElementById("pay-button");

  const show = (text, kind) => {
    message.textContent = text;
    message.className = `alert alert-${kind}`;
  };

  // SEPA Direct Debit (EUR invoices): the IBAN goes to Stripe.js, the mandate shown above it must be accepted.
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
  const sepaMethodId = async () => {
    if (!document.getElementById("mandate-accepted").checked) throw new Error(sepa.dataset.acceptFirst);
    const made = await stripe.createPaymentMethod({
      type: "sepa_debit",
      sepa_debit: { iban: document.getElementById("sepa-iban").value },
      billing_details: {
        name: document.getElementById("sepa-name").value,
        email: document.getElementById("sepa-email").value,
      },
    });
    if (made && made.error) throw made.error;
    if (!made || !made.paymentMethod) throw new Error(sepa.dataset.unavailable);
    return made.paymentMethod.id;
  };

  // Real Stripe.js: createPaymentMethod. localstripe's stand-in only makes tokens (card_… ids).
  const methodId = async () => {
    if (isSepa()) return sepaMethodId();
    const made = await stripe.createPaymentMethod({ type: "card", card });
    if (made && made.paymentMethod) return made.paymentMethod.id;
    if (made && made.error) throw made.error;
    const tokenised = await stripe.createToken(card);
    if (tokenised.error) throw tokenised.error;
    return tokenised.token.card.id;
  };

  const post = async (fields) => {
    const body = new FormData(form);
    Object.entries(fields).forEach(([name, value]) => body.set(name, value));
    const response = await fetch(form.action || window.location.href, { method: "POST", body });
    return response.json();
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const fields = { payment_method: await methodId() };
      if (!isSepa()) fields.mandate_accepted = "";
      let result = await post(fields);
      if (result.status === "requires_action") {
        const confirmed = await stripe.confirmCardPayment(result.client_secret);
        result = confirmed.error
          ? { status: "declined", message: confirmed.error.message }
          : { status: "processing", message: result.message };
      }
      const ok = result.status === "paid" || result.status === "processing";
      show(result.message, ok ? "success" : "danger");
      if (ok) form.querySelector("#card-element").remove();
      else button.disabled = false;
    } catch (error) {
      show((error && error.message) || String(error), "danger");
      button.disabled = false;
    }
  });
});
