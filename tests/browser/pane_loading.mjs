// The task pane's loading in headless Chromium against the server's built pane (started by
// tests/browser/main.rs): the first opening (cold cache) interactive within a 2 s ceiling and at most
// 100 KB, the second opening (as Outlook reopens the pane: a new page, same browser cache) at most
// 2 KB, and a clear error in the reader's language, not "Loading…" forever, when the wasm cannot
// be loaded.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { availableParallelism, loadavg } from "node:os";

const BASE = process.env.BASE_URL;
if (!BASE) throw new Error("missing env BASE_URL");

// Outside Outlook: Office.js from Microsoft's CDN fails at once (not routed: routing would turn
// the browser's HTTP cache off, which is what this walk measures).
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--host-resolver-rules=MAP appsforoffice.microsoft.com ~NOTFOUND"],
});

const newContext = (locale) => browser.newContext({ locale });

// DESIGN.md's target for a cold first opening is 300 ms against the release server (README's
// performance table). This walk runs against the debug test server, whose first answers of a
// fresh process alone varied from 0.4 to 0.9 s here, so it asserts a ceiling that catches a
// pane that stalls (a wasm that never instantiates, a request chain added to the start) rather
// than the target; the time is printed for the record. On a machine with more runnable
// processes than cores every step waits for a core in proportion, so the ceiling scales by the
// load average.
const CEILING_MS = 2000;
const load = Math.max(1, loadavg()[0] / availableParallelism());
const INTERACTIVE_MS = Math.round(CEILING_MS * load);

// Opens the pane in a new page; returns the bytes our server sent (headers included) and the
// time from navigation start until the pane was interactive.
async function open(context) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const ours = new Set();
  let bytes = 0;
  cdp.on("Network.requestWillBeSent", (e) => { if (e.request.url.startsWith(BASE)) ours.add(e.requestId); });
  cdp.on("Network.loadingFinished", (e) => { if (ours.has(e.requestId)) bytes += e.encodedDataLength; });
  await page.goto(`${BASE}/taskpane.html`);
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
  console.log(`  ${steps}`);
  // Let the last loadingFinished events arrive.
  await page.waitForTimeout(200);
  await page.close();
  return { bytes, interactive };
}

const context = await newContext("en-US");
const first = await open(context);
console.log(`first opening: ${first.bytes} B from the server, interactive after ${first.interactive.toFixed(0)} ms`);
const second = await open(context);
console.log(`second opening: ${second.bytes} B from the server, interactive after ${second.interactive.toFixed(0)} ms`);
assert.ok(first.bytes > 20000, `the first opening loads the pane (${first.bytes} B)`);
assert.ok(first.bytes <= 102400, `the first opening transferred ${first.bytes} B (at most 100 KB)`);
console.log(`load ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores: at most ${INTERACTIVE_MS} ms to interactive`);
assert.ok(first.interactive <= INTERACTIVE_MS,
  `the first opening was interactive after ${first.interactive.toFixed(0)} ms (at most ${INTERACTIVE_MS} ms)`);
assert.ok(second.bytes <= 2048, `the second opening transferred ${second.bytes} B (at most 2 KB)`);
await context.close();

for (const [locale, text] of [["en-US", "could not be loaded"], ["cs-CZ", "nepodařilo načíst"]]) {
  const broken = await newContext(locale);
  await broken.route("**/*.wasm", (route) => route.fulfill({ status: 404, body: "" }));
  const page = await broken.newPage();
  await page.goto(`${BASE}/taskpane.html`);
  const problem = page.locator("#problem");
  await problem.waitFor({ state: "visible", timeout: 15000 });
  assert.ok((await problem.textContent()).includes(text), `${locale}: ${await problem.textContent()}`);
  assert.ok(await page.locator("#loading").isHidden(), `${locale}: still "Loading…"`);
  console.log(`a pane whose wasm cannot be loaded says so (${locale})`);
  await broken.close();
}
await browser.close();
