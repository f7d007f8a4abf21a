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

// A running import: poll its small JSON status and move the progress bar;
// reload once it has finished so the page shows the outcome.
document.addEventListener("DOMContentLoaded", () => {
  const bar = document.querySelector("[data-import-status]");
  if (!bar) return;
  const fill = bar.querySelector(".progress-bar");
  const poll = async () => {
    const response = await fetch(bar.dataset.importStatus, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const status = await response.json();
    fill.style.width = `${status.percent}%`;
    fill.textContent = `${status.percent}%`;
    bar.setAttribute("aria-valuenow", status.percent);
    if (status.finished) window.location.reload();
    else window.setTimeout(poll, 1000);
  };
  poll();
});
