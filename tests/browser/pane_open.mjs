// Opening the task pane in headless Chromium and measuring it, shared by the pane's loading walk
// (pane_loading.mjs, a test) and the bench (pane_bench.mjs). "Interactive" is the moment the
// pane marks `window.__paneInteractiveAt` (performance.now()): its search field accepts typing.
import { chromium } from "playwright-core";

// Outside Outlook: Office.js from Microsoft's CDN fails at once (not routed: routing would turn
// the browser's HTTP cache off, which is what is measured).
export function launchChromium() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--host-resolver-rules=MAP appsforoffice.microsoft.com ~NOTFOUND"],
  });
}

// Opens the pane of the server at `base` in a new page of `context` (a new context has a cold
// cache; a second page in the same context reopens the pane as Outlook does). Returns the bytes
// our server sent (headers included), the time from navigation start until the pane was
// interactive, and where the time went.
export async function openPane(context, base) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const ours = new Set();
  let bytes = 0;
  cdp.on("Network.requestWillBeSent", (e) => { if (e.request.url.startsWith(base)) ours.add(e.requestId); });
  cdp.on("Network.loadingFinished", (e) => { if (ours.has(e.requestId)) bytes += e.encodedDataLength; });
  await page.goto(`${base}/taskpane.html`);
  await page.waitForFunction(() => window.__paneInteractiveAt !== undefined, null, { timeout: 15000 });
  const interactive = await page.evaluate(() => window.__paneInteractiveAt);
  // Where the time went: the page, the last of the pane's files, the wasm instantiated.
  const steps = await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const files = performance.getEntriesByType("resource").filter((r) => r.name.includes("/v/"));
    const marks = window.__paneMarks || {};
    return [
      `page ${nav.responseEnd.toFixed(0)} ms`,
      `files ${Math.max(...files.map((r) => r.responseEnd)).toFixed(0)} ms`,
      `scripts run ${(marks.script || 0).toFixed(0)} ms`,
      `wasm ready ${(marks.instantiated || 0).toFixed(0)} ms`,
    ].join(", ");
  });
  // Let the last loadingFinished events arrive.
  await page.waitForTimeout(200);
  await page.close();
  return { bytes, interactive, steps };
}
