// The composed example's script, served at /assets/app.js by
// `python -m rswsgi.dev examples.composed:app --static /assets=examples/static`.
// Once the page has loaded it says whether the stylesheet, this script and the
// logo arrived (tests/test_browser.py reads the verdict from #assets).
window.addEventListener("load", () => {
  const css = getComputedStyle(document.querySelector("h1")).color === "rgb(183, 65, 14)";
  const logo = document.getElementById("logo");
  const image = logo.complete && logo.naturalWidth === 32;
  const out = document.getElementById("assets");
  const say = (ok) => (ok ? "ok" : "MISSING");
  out.textContent = `assets: css ${say(css)}, js ok, image ${say(image)}`;
  out.dataset.ok = String(css && image);
});
