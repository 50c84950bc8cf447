// Boots the task pane once Office is ready: loads the wasm module and hands control to it.
import init, { start } from "../pkg/addin_wasm.js";

const ready = new Promise((resolve) => {
  if (window.Office && typeof Office.onReady === "function") Office.onReady(() => resolve());
  else resolve();
});
await Promise.all([init(), ready]);
start("");
window.__paneInteractiveAt = performance.now();
