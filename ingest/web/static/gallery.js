// Copy buttons for credit lines: keyboard-usable buttons, with a text fallback where the
// Clipboard API is unavailable (plain http on a LAN).
document.addEventListener("click", async (event) => {
  const button = event.target.closest(".copy-button");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(field.value);
  } catch (e) {
    field.select();
    document.execCommand("copy");
  }
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = label; }, 1500);
});

// On a phone the facets fold into one "Filter" disclosure, so the photos come first; on a wider
// screen they stay open as Datasette shows them.
document.addEventListener("DOMContentLoaded", () => {
  const facets = document.querySelector(".facet-results");
  if (!facets || !window.matchMedia("(max-width: 600px)").matches) return;
  const details = document.createElement("details");
  details.className = "gallery-facets";
  const summary = document.createElement("summary");
  const count = facets.querySelectorAll(".facet-info").length;
  summary.textContent = `Filter by ${count} facet${count === 1 ? "" : "s"} (demonstration, city, licence…)`;
  facets.parentNode.insertBefore(details, facets);
  details.append(summary, facets);
});

// The photo viewer (row-gallery-photos.html): arrow keys step to the previous / next photo of the
// set (not while typing in a field), and a button shows the photo full screen (Escape leaves it).
document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  if (event.target.closest("input, textarea, select, [contenteditable]")) return;
  const link = document.querySelector(`.viewer-nav a[data-key="${event.key}"]`);
  if (link) { event.preventDefault(); window.location.href = link.href; }
});
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-fullscreen]");
  if (!button) return;
  const target = document.querySelector(button.dataset.fullscreen);
  if (!target) return;
  if (document.fullscreenElement) document.exitFullscreen();
  else if (target.requestFullscreen) target.requestFullscreen().catch(() => target.classList.toggle("viewer-full"));
  else target.classList.toggle("viewer-full");
});

// Licence chips are links that act as toggle buttons (role="button"): Space presses them too.
document.addEventListener("keydown", (event) => {
  if (event.key !== " ") return;
  const chip = event.target.closest('a[role="button"]');
  if (chip) { event.preventDefault(); chip.click(); }
});
