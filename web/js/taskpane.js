// Boots the task pane once Office is ready: loads the wasm module and hands control to it. If the
// module cannot be loaded, says so instead of "Loading…" forever.

// Before the wasm (and with it the catalogs) is there, so these two texts live here.
const LOAD_FAILED = {
  en: "The CRM Bridge pane could not be loaded. Close it and open it again; if this keeps happening, tell your CRM Bridge admin.",
  cs: "Panel CRM Bridge se nepodařilo načíst. Zavřete ho a otevřete znovu; pokud se to opakuje, dejte vědět správci CRM Bridge.",
};

function showLoadFailure(error) {
  console.error("the task pane could not be loaded", error);
  const language = (window.Office && Office.context && Office.context.displayLanguage) || navigator.language || "en";
  const problem = document.getElementById("problem");
  problem.textContent = language.toLowerCase().startsWith("cs") ? LOAD_FAILED.cs : LOAD_FAILED.en;
  problem.className = "msg error";
  problem.hidden = false;
  document.getElementById("loading").hidden = true;
}

// In the Outlook sandbox (web/sandbox.html) the page beside the pane plays Outlook.
if (window.parent !== window) {
  try {
    if (window.parent.crmBridgeSandbox) window.Office = window.parent.crmBridgeSandbox.createOffice(window);
  } catch (e) { /* another origin: not the sandbox */ }
}
const ready = new Promise((resolve) => {
  if (window.Office && typeof Office.onReady === "function") Office.onReady(() => resolve());
  else resolve();
});
try {
  // Steps of the first load, read by tests/browser/pane_loading.mjs.
  window.__paneMarks = { script: performance.now() };
  const [wasm] = await Promise.all([import("../pkg/addin_wasm.js"), ready]);
  await wasm.default();
  window.__paneMarks.instantiated = performance.now();
  wasm.start("");
  window.__paneInteractiveAt = performance.now();
} catch (error) {
  showLoadFailure(error);
}
