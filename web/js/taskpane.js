// Boots the task pane once Office is ready: loads the wasm module and hands control to it.
import init, { start } from "../pkg/addin_wasm.js";

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
await Promise.all([init(), ready]);
start("");
window.__paneInteractiveAt = performance.now();
