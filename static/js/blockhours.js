// Blockhours: progressive enhancements only; every page works without this file.
// Kept out of the HTML so a Content-Security-Policy without 'unsafe-inline' can apply.
document.addEventListener("DOMContentLoaded", () => {
  // Filter forms with data-autosubmit submit when a select changes.
  document.querySelectorAll("form[data-autosubmit] select").forEach((select) => {
    select.addEventListener("change", () => select.form.requestSubmit());
  });
  // A running timer's elapsed time moves on while the page is open (the server's figure is the start).
  document.querySelectorAll("[data-timer-started]").forEach((element) => {
    const started = Date.parse(element.dataset.timerStarted);
    if (Number.isNaN(started)) return;
    const show = () => {
      const minutes = Math.max(1, Math.ceil((Date.now() - started) / 60000));
      const hours = Math.floor(minutes / 60);
      const rest = minutes % 60;
      element.textContent = hours && rest ? `${hours} h ${rest} min` : hours ? `${hours} h` : `${rest} min`;
    };
    window.setInterval(show, 15000);
  });
});
