// The bench's measurement of the task pane (run by `bench`, see tests/src/bin/bench/pane.rs):
// RUNS times, a fresh browser context (cold cache) opens the pane of the server at BASE_URL and
// then opens it again (as Outlook reopens the pane: a new page, same cache). Prints one JSON line:
// {"first_ms":[…], "first_bytes":[…], "second_bytes":[…]}.
import { launchChromium, openPane } from "./pane_open.mjs";

const BASE = process.env.BASE_URL;
if (!BASE) throw new Error("missing env BASE_URL");
const RUNS = Number(process.env.RUNS || 5);

const browser = await launchChromium();
const out = { first_ms: [], first_bytes: [], second_bytes: [] };
for (let run = 0; run < RUNS; run++) {
  const context = await browser.newContext({ locale: "en-US" });
  const first = await openPane(context, BASE);
  const second = await openPane(context, BASE);
  console.error(`run ${run + 1}: first ${first.interactive.toFixed(0)} ms (${first.steps}), ` +
    `${first.bytes} B; second ${second.bytes} B`);
  out.first_ms.push(Number(first.interactive.toFixed(1)));
  out.first_bytes.push(first.bytes);
  out.second_bytes.push(second.bytes);
  await context.close();
}
await browser.close();
console.log(JSON.stringify(out));
