// Blockhours: progressive enhancements only; every page works without this file.
// Kept out of the HTML so a Content-Security-Policy without 'unsafe-inline' can apply.
document.addEventListener("DOMContentLoaded", () => {
  // Filter forms with data-autosubmit submit when a select changes.
  document.querySelectorAll("form[data-autosubmit] select").forEach((select) => {
    select.addEventListener("change", () => select.form.requestSubmit());
  });
});
