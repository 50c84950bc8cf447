// The task pane's loading in headless Chromium against the server's built pane (started by
// tests/browser/main.rs): the first opening (cold cache) interactive within a 2 s ceiling and at most
// 100 KB, the second opening (as Outlook reopens the pane: a new page, same browser cache) at most
// 2 KB, and a clear error in the reader's language, not "Loading…" forever, when the wasm cannot
// be loaded.
import assert from "node:assert/strict";
import { availableParallelism, loadavg } from "node:os";
import { launchChromium, openPane } from "./pane_open.mjs";

const BASE = process.env.BASE_URL;
if (!BASE) throw new Error("missing env BASE_URL");

const browser = await launchChromium();

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

async function open(context) {
  const opened = await openPane(context, BASE);
  console.log(`  ${opened.steps}`);
  return opened;
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
