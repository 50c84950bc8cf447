// The Outlook task pane in headless Chromium, inside the Outlook sandbox page (Office stubbed:
// the office.js CDN URL is routed to a stub that adopts the sandbox's fake Outlook), against the
// real server, raynet-sim and entra-sim started by tests/browser/main.rs.
// Env: BASE_URL, TOKEN, STRANGER_TOKEN (valid, but of no employee), SHOTS_DIR; ITEMS="1" when
// the item cache API exists (suggestions and lookups are checked), SAVE="1" when the activities
// API exists (saving is checked); COLLEAGUE: who saved the sandbox's meeting first; RAYNET_URL:
// the simulator, whose control endpoint deletes an activity "in Raynet".
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const { BASE_URL, TOKEN, SHOTS_DIR } = process.env;
const ITEMS = process.env.ITEMS === "1";
const SAVE = ITEMS && process.env.SAVE === "1";
mkdirSync(SHOTS_DIR, { recursive: true });
const step = (text) => console.log(`step: ${text}`);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
let failed = false;
const page = await browser.newPage({ viewport: { width: 1300, height: 800 } });
const consoleErrors = [];
page.on("console", (m) => {
  if (m.type() === "error") { consoleErrors.push(m.text()); console.log(`console error: ${m.text()}`); }
});
page.on("pageerror", (e) => { console.log(`page error: ${e}`); failed = true; });
await page.route("https://appsforoffice.microsoft.com/**", (route) =>
  route.fulfill({
    contentType: "application/javascript",
    body: "window.Office = window.parent.crmBridgeSandbox.createOffice(window);",
  }));

try {
  step("open the sandbox with the first e-mail (from a known contact)");
  await page.goto(`${BASE_URL}/sandbox.html#token=${encodeURIComponent(TOKEN)}`);
  const frame = page.frameLocator("#pane");
  await frame.locator("body[data-ready='1']").waitFor({ timeout: 15000 });
  const paneFrame = page.frames().find((f) => f.url().endsWith("/taskpane.html"));
  const interactive = await paneFrame.evaluate(() => window.__paneInteractiveAt);
  console.log(`first load: ${interactive.toFixed(0)} ms (navigation start → pickers interactive)`);
  await frame.locator("#item").filter({ hasText: "Nabídka na servis linky" }).waitFor();

  if (ITEMS) {
    step("suggestions: the firm and the contact are preselected");
    await frame.locator("#chosen-company .chip").filter({ hasText: "Vítkovice" }).waitFor();
    await frame.locator("#chosen-person .chip").filter({ hasText: "Jan Novák" }).waitFor();

    step("typing 'vitk' finds Vítkovice; pick it with the keyboard");
    await frame.locator("#chosen-company button[data-act='remove']").click();
    await frame.locator("#q-company").fill("vitk");
    await frame.locator("#list-company li[data-act='pick']").filter({ hasText: "Vítkovice" }).first().waitFor();
    await frame.locator("#q-company").press("Enter");
    await frame.locator("#chosen-company .chip").filter({ hasText: "Vítkovice" }).waitFor();
    step("contacts and projects are filtered by the firm: pick its project");
    await frame.locator("#q-project").fill("servis");
    await frame.locator("#list-project li[data-act='pick']").filter({ hasText: "Servis linky" }).first().click();
    await frame.locator("#chosen-project .chip").filter({ hasText: "Servis linky" }).waitFor();
  }

  if (SAVE) {
    step("save; the status reads 'Saving…', then saved with a link (never 'Queued' while the CRM answers)");
    const seen = [];
    await frame.locator("#save").click();
    const paneStatus = () => paneFrame.evaluate(() => document.getElementById("status").innerText);
    for (let i = 0; i < 600 && !(await frame.locator("#status[data-status='saved'] a.crm-link").count()); i++) {
      const now = await paneStatus();
      if (seen[seen.length - 1] !== now) seen.push(now);
      await page.waitForTimeout(25);
    }
    await frame.locator("#status[data-status='saved'] a.crm-link").waitFor({ timeout: 30000 });
    console.log(`status texts while saving: ${JSON.stringify(seen)}`);
    if (seen.some((t) => /Queued/.test(t))) throw new Error(`'Queued' shown though the CRM answered: ${seen}`);
    if (!seen.some((t) => /Saving…/.test(t))) throw new Error(`no 'Saving…' while saving: ${seen}`);
    const href = await frame.locator("#status a.crm-link").getAttribute("href");
    if (!/\/\?view=DetailView&en=Email&ei=\d+$/.test(href)) throw new Error(`not Raynet's record address: ${href}`);
    const card = await page.request.get(href);
    if (card.status() !== 200) throw new Error(`'Open in Raynet' leads to ${card.status()}: ${href}`);
    await page.screenshot({ path: `${SHOTS_DIR}/email-saved.png` });

    step("a meeting with an unknown attendee: save, then add the attendee as a contact");
    await page.locator("#mailbox li[data-index='3']").click();
    await frame.locator("#item").filter({ hasText: "kick-off" }).waitFor();
    await frame.locator("#unmatched li").filter({ hasText: "karel.novy@vitkovice.cz" }).waitFor();
    await frame.locator("#save").click();
    await frame.locator("#status[data-status='saved']").waitFor({ timeout: 30000 });
    step("a colleague saved this meeting first: one activity, 'already saved by' with the link");
    await frame.locator("#status").filter({ hasText: process.env.COLLEAGUE }).waitFor({ timeout: 15000 });
    await frame.locator("#status a.crm-link").waitFor();
    await page.screenshot({ path: `${SHOTS_DIR}/meeting-saved-by-colleague.png` });
    await frame.locator("#unmatched button[data-email='karel.novy@vitkovice.cz']").click();
    await frame.locator("#chosen-person .chip").filter({ hasText: "Nový" }).waitFor();
    await frame.locator("#unmatched").waitFor({ state: "hidden" });
    await page.screenshot({ path: `${SHOTS_DIR}/meeting-saved.png` });

    step("back to the saved e-mail: the pane shows it is in the CRM");
    await page.locator("#mailbox li[data-index='0']").click();
    await frame.locator("#status[data-status='saved'] a.crm-link").waitFor({ timeout: 15000 });

    step("the e-mail's activity is deleted in Raynet: the pane says so and offers saving again");
    const query = `internet_message_id=${encodeURIComponent("<offer-1@vitkovice.cz>")}`;
    const entry = await (await fetch(`${BASE_URL}/api/addin/logged?${query}`,
      { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
    const gone = await fetch(new URL(`/_sim/records/email/${entry.crm_activity_id}`, process.env.RAYNET_URL),
      { method: "DELETE" });
    if (!gone.ok) throw new Error(`the simulator did not delete the activity: ${gone.status}`);
    let deleted = false;
    for (let i = 0; i < 20 && !deleted; i++) {
      await page.locator("#mailbox li[data-index='1']").click();
      await page.locator("#mailbox li[data-index='0']").click();
      deleted = await frame.locator("#status[data-status='deleted_in_crm']")
        .waitFor({ timeout: 1000 }).then(() => true, () => false);
    }
    if (!deleted) throw new Error("the pane never showed the activity as deleted in Raynet");
    await page.screenshot({ path: `${SHOTS_DIR}/email-deleted-in-crm.png` });
    await frame.locator("#save").click();
    await frame.locator("#status[data-status='saved'] a.crm-link").waitFor({ timeout: 30000 });
  }

  step("ItemChanged to another e-mail refreshes the pane and empties the search fields");
  await frame.locator("#q-company").fill("typed for the previous e-mail");
  await page.locator("#mailbox li[data-index='2']").click();
  await frame.locator("#item").filter({ hasText: "Newsletter" }).waitFor();
  if (await frame.locator("#q-company").inputValue() !== "") throw new Error("the search text of the previous e-mail stayed");
  step("a newsletter sender is not offered as a new contact");
  await frame.locator("#status[data-status='none']").waitFor();
  if (await frame.locator("#unmatched button[data-act='add-contact']").count() !== 0) {
    throw new Error("'Add as contact' offered for a newsletter sender");
  }
  step("Outlook's display language switches the pane live");
  await page.locator("#language").selectOption("cs-CZ");
  await frame.locator("html[lang='cs']").waitFor();
  await frame.locator("#status").filter({ hasText: "Zatím není uloženo v CRM." }).waitFor();
  await page.screenshot({ path: `${SHOTS_DIR}/language-cs.png` });
  await page.locator("#language").selectOption("en-US");
  await frame.locator("html[lang='en']").waitFor();
  await frame.locator("#status").filter({ hasText: "Not saved to the CRM yet." }).waitFor();
  const notFound = consoleErrors.filter((t) => /404/.test(t));
  if (notFound.length) throw new Error(`the console shows 404s for unsaved items: ${notFound}`);
  if (SAVE) await frame.locator("#status[data-status='none']").waitFor();
  if (ITEMS) {
    if (await frame.locator("#chosen-company .chip").count() !== 0) throw new Error("the firm of the previous e-mail is still chosen");
  }

  step("a draft in compose mode is read through the async getters");
  await page.locator("#mailbox li[data-index='4']").click();
  await frame.locator("#item").filter({ hasText: "Koncept: doplnění nabídky" }).waitFor();
  if (ITEMS) await frame.locator("#chosen-person .chip").filter({ hasText: "Jan Novák" }).waitFor();

  step("a signed-in user who is not an employee gets a clear message");
  const token = await page.locator("#token").inputValue();
  await page.locator("#token").fill(process.env.STRANGER_TOKEN);
  await page.locator("#mailbox li[data-index='0']").click();
  await frame.locator("body[data-problem='NotRegistered']").waitFor();
  const notRegistered = await frame.locator("#problem").innerText();
  if (!/not set up in CRM Bridge/.test(notRegistered)) throw new Error(`unexpected text: ${notRegistered}`);
  await page.locator("#token").fill(token);

  step("no item selected (pinned pane): the empty state");
  await page.locator("#none").click();
  await frame.locator("#empty").waitFor();

  step("the server is stopped: a clear offline state");
  // tests/browser/taskpane.rs stops the server on this line and answers on stdin.
  console.log("STOP_SERVER");
  await new Promise((resolve) => process.stdin.once("data", resolve));
  await page.locator("#mailbox li[data-index='1']").click();
  await frame.locator("body[data-problem='Offline']").waitFor();
  const text = await frame.locator("#problem").innerText();
  if (!/cannot be reached/.test(text)) throw new Error(`unexpected offline text: ${text}`);
  await page.screenshot({ path: `${SHOTS_DIR}/offline.png` });
} catch (e) {
  console.log(`FAILED: ${e.message}`);
  await page.screenshot({ path: `${SHOTS_DIR}/failure.png` }).catch(() => {});
  failed = true;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
