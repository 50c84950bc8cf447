// The admin UI walk: a new admin does the whole setup in headless Chromium against raynet-sim and
// entra-sim (started by tests/browser/main.rs, which passes URLs and credentials in env vars).
// Saves a screenshot of every page in English and Czech, and checks that no secret is ever in
// a page's source.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import assert from "node:assert/strict";

const env = (name) => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`missing env ${name}`);
  return v;
};
const BASE = env("BASE_URL");
const SHOTS = env("SHOTS_DIR");
const SECRETS = env("SECRETS").split("\n").filter(Boolean);
mkdirSync(SHOTS, { recursive: true });
// The rules form's screenshots illustrate the setup guides.
const DOCS_SHOTS = new URL("../../docs/screenshots", import.meta.url).pathname;
mkdirSync(DOCS_SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(15000);
page.on("dialog", (d) => d.accept());

const step = (text) => console.log(`• ${text}`);
async function noSecrets(where) {
  const html = await page.content();
  for (const s of SECRETS) assert.ok(!html.includes(s), `a secret is in the source of ${where}`);
}
async function shot(name, lang) {
  await noSecrets(name);
  await page.screenshot({ path: `${SHOTS}/${name}-${lang}.png`, fullPage: true });
}
async function expectText(text) {
  await page.getByText(text, { exact: false }).first().waitFor();
}
async function go(path) {
  await page.goto(BASE + path);
}

// A real first run: the setup link the server printed creates the first admin. The page keeps
// its origin in the form post (a `no-referrer` policy made Chromium send `Origin: null`).
step("first admin from the setup link");
const setupStatus = (await page.goto(env("SETUP_URL"))).status();
assert.equal(setupStatus, 200);
await page.getByRole("heading", { name: "Create the first admin" }).waitFor();
await shot("setup", "en");
await page.getByLabel("Language").selectOption("cs");
await page.getByRole("heading", { name: "Vytvoření prvního správce" }).waitFor();
assert.equal(page.url(), env("SETUP_URL"), "the language switch stays on the setup page");
await shot("setup", "cs");
await page.getByLabel("Jazyk").selectOption("en");
await page.getByRole("heading", { name: "Create the first admin" }).waitFor();
await page.getByLabel("E-mail").fill(env("ADMIN_EMAIL"));
await page.getByLabel("Password").fill("short");
await page.getByRole("button", { name: "Create admin" }).click();
await page.locator("#f-password-error").waitFor();
assert.equal(await page.getByLabel("E-mail").inputValue(), env("ADMIN_EMAIL"));
await page.getByLabel("Password").fill(env("ADMIN_PASSWORD"));
const created = page.waitForResponse((r) => r.request().method() === "POST");
await page.getByRole("button", { name: "Create admin" }).click();
assert.equal((await created).status(), 201, "the setup form is accepted");
await expectText(`The admin ${env("ADMIN_EMAIL")} was created.`);
await shot("setup-done", "en");
await page.getByRole("link", { name: "Sign in" }).last().click();

// Sign in (keyboard: the skip link is the first stop).
step("sign in");
await go("/admin");
assert.match(page.url(), /\/admin\/login/);
await page.keyboard.press("Tab");
assert.equal(await page.evaluate(() => document.activeElement.className), "skip");
await shot("login", "en");
await page.getByLabel("E-mail").fill(env("ADMIN_EMAIL"));
await page.getByLabel("Password").fill(env("ADMIN_PASSWORD"));
await page.getByRole("button", { name: "Sign in" }).click();
await page.waitForURL(/\/admin\/company/);

// Company: a wrong check digit is shown next to the field and the typed values stay.
step("company");
await page.getByLabel("Company name").fill("Stavby Vítkovice s.r.o.");
await page.getByLabel("IČO").fill("25607805");
await page.getByLabel("DIČ").fill("CZ25607804");
await page.getByRole("button", { name: "Save" }).click();
await page.locator("#f-ico-error").waitFor();
assert.equal(await page.getByLabel("Company name").inputValue(), "Stavby Vítkovice s.r.o.");
assert.equal(await page.getByLabel("IČO").getAttribute("aria-invalid"), "true");
await page.getByLabel("IČO").fill("25607804");
await page.getByRole("button", { name: "Save" }).click();
await expectText("Saved.");
await shot("company", "en");

// CRM connection + test.
step("CRM connection");
await go("/admin/crm");
await page.getByLabel("API address").fill(env("CRM_URL"));
await page.getByLabel("Instance").fill(env("CRM_INSTANCE"));
await page.getByLabel("Admin e-mail").fill(env("CRM_USER"));
await page.getByLabel("API key").fill(env("CRM_KEY"));
await page.getByRole("button", { name: "Save" }).click();
await expectText("Saved.");
await page.getByRole("button", { name: "Test connection" }).click();
await expectText("The connection works.");
await expectText("requests are left today");
await shot("crm", "en");

// Webhook: generate the id, create it in Raynet.
step("webhook");
await go("/admin/webhook");
await page.getByRole("button", { name: "Generate webhook ID" }).click();
await expectText("A new webhook ID was generated.");
const url = await page.locator("#webhook-url").textContent();
assert.match(url, new RegExp(`^${BASE}/api/raynet-event/[A-Za-z0-9_-]{22,}$`));
await page.getByRole("button", { name: "Create webhook in Raynet" }).click();
await expectText("The webhook is registered in Raynet.");
await expectText("Registered in Raynet on");
await shot("webhook", "en");

// Import: run it and watch every bar reach 100 %.
step("import");
await go("/admin/import");
if (env("WITH_IMPORT") === "1") {
  await page.getByRole("button", { name: "Run initial import" }).click();
  for (const kind of ["company", "person", "project", "business_case"]) {
    await page.waitForFunction((k) => document.getElementById(`bar-${k}`).value === 100, kind, { timeout: 60000 });
  }
  await expectText("Finished.");
} else {
  console.log("  (import API not on this server yet: the run is skipped)");
}
await shot("import", "en");

// Office 365 + test.
step("Office 365");
await go("/admin/office365");
await page.getByLabel("Application (client) ID").fill(env("O365_CLIENT_ID"));
await page.getByLabel("Directory (tenant) ID").fill(env("O365_TENANT"));
// The test tries the typed, unsaved values and names what is missing.
await page.getByRole("button", { name: "Test", exact: true }).click();
await expectText("Fill in first: Client secret");
await page.getByLabel("Client secret").fill(env("O365_SECRET"));
await page.getByRole("button", { name: "Test", exact: true }).click();
await expectText("Microsoft accepted the app's credentials.");
// The values to paste into Entra: one Application ID URI, its scope, the NAA redirect URI.
const host = new URL(BASE).host;
await expectText(`api://${host}/${env("O365_CLIENT_ID")}/access_as_user`);
await expectText(`brk-multihub://${host}`);
await page.getByLabel("Client secret").fill(env("O365_SECRET"));
await page.getByRole("button", { name: "Save" }).click();
await expectText("Saved.");
await shot("office365", "en");

// Employees: add one, test their key.
step("employee");
await go("/admin/employees");
await page.getByRole("link", { name: "Add employee" }).click();
await page.getByLabel("Identifier").fill("E-042");
await page.getByLabel("CRM account (e-mail)").fill(env("EMP_CRM_USER"));
await page.getByLabel("CRM API key").fill(env("EMP_CRM_KEY"));
await page.getByLabel("Office 365 e-mail").fill(env("EMP_CRM_USER"));
await page.getByRole("button", { name: "Save" }).click();
await expectText("Created.");
const employeePath = new URL(page.url()).pathname;
await page.getByRole("button", { name: "Test CRM key" }).click();
await expectText("The connection works.");
await expectText("Jana Nováková");
await shot("employee", "en");
await go("/admin/employees");
await expectText("E-042");
// At 1280 px every column, Status included, fits without scrolling; the Office 365 e-mail shows.
await page.getByRole("columnheader", { name: "Office 365 e-mail" }).waitFor();
const fits = await page.evaluate(() => {
  const wrap = document.querySelector(".table-wrap");
  const status = [...document.querySelectorAll("th")].find((th) => th.textContent === "Status");
  return wrap.scrollWidth <= wrap.clientWidth && status.getBoundingClientRect().right <= window.innerWidth;
});
assert.ok(fits, "the employees table is cut off at 1280 px");
await shot("employees", "en");

// Synchronisation: a bad value is refused next to its field, then calendar sync is switched on.
step("synchronisation");
await go("/admin/sync");
await page.getByLabel("Show Raynet activities in the employees' Outlook calendars").check();
await page.getByLabel("Outlook category").fill("");
await page.getByRole("button", { name: "Save", exact: true }).click();
await page.locator("#f-category-error").waitFor();
assert.equal(await page.getByLabel("Show Raynet activities in the employees' Outlook calendars").isChecked(), true);
await page.getByLabel("Outlook category").fill("Raynet");
await page.getByLabel("Sync activities from").fill("2026-01-01");
for (const type of ["Meetings", "Events", "Tasks", "Phone calls", "Letters"]) {
  await page.getByLabel(type, { exact: true }).check();
}
await page.getByLabel("All activity types").check();
await page.getByRole("button", { name: "Save", exact: true }).click();
await expectText("Saved.");
// The sync rules: an out-of-range safety valve is refused next to its field, then tasks stop
// being updated in Outlook and deleted activities cancel their meetings.
step("sync rules");
await page.getByLabel("Tasks – Raynet → Outlook – Update").uncheck();
await page.getByLabel("cancelled (a meeting's attendees get the message below)").check();
await page.getByLabel("Hold an item that flips between the sides").fill("0");
await page.getByRole("button", { name: "Save rules" }).click();
await page.locator("#f-flap_limit_per_hour-error").waitFor();
assert.equal(await page.getByLabel("Tasks – Raynet → Outlook – Update").isChecked(), false);
await page.getByLabel("Hold an item that flips between the sides").fill("6");
await page.getByRole("button", { name: "Save rules" }).click();
await expectText("Saved.");
assert.equal(await page.getByLabel("Tasks – Raynet → Outlook – Update").isChecked(), false);
await noSecrets("sync-rules");
await page.locator("#sync-rules").screenshot({ path: `${DOCS_SHOTS}/sync-rules-en.png` });
// Jana is opted in; a meeting she owns, planned in Raynet, reaches her Outlook calendar.
const jana = page.locator("#sync-employees tbody tr").filter({ hasText: "E-042" });
await jana.getByRole("button", { name: "Turn on" }).click();
await expectText("Saved.");
await jana.getByRole("button", { name: "Turn off" }).waitFor();
const meeting = await fetch(`${env("CRM_ROOT")}/_sim/records/meeting`, {
  method: "PUT",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({
    title: "Prohlídka stavby", priority: "DEFAULT", owner: Number(env("EMP_PERSON_ID")),
    scheduledFrom: "2026-09-01T09:00:00+02:00", scheduledTill: "2026-09-01T10:00:00+02:00",
  }),
});
assert.ok(meeting.ok, `the simulator refused the meeting: ${meeting.status}`);
const meetingId = (await meeting.json()).data.id;
step("trace of the synced meeting");
const deadline = Date.now() + 30000;
for (;;) {
  await go("/admin/sync/trace");
  if ((await page.getByText("Event created").count()) > 0) break;
  assert.ok(Date.now() < deadline, "the meeting was not synced within 30 s");
  await page.waitForTimeout(500);
}
await page.getByRole("link", { name: `raynet:meeting:${meetingId}` }).first().click();
await page.waitForURL(/activity=raynet%3Ameeting%3A/);
await expectText(env("EMP_CRM_USER"));
await shot("sync-trace", "en");
await go("/admin/sync");
await jana.getByRole("button", { name: "Sync now" }).click();
await expectText("One activity is queued for sync.");
await shot("sync", "en");
// The dry run: what the next sync would do, with the rule that decided each action.
step("preview");
await page.getByRole("button", { name: "Preview", exact: true }).click();
await page.waitForURL(/\/admin\/sync\/preview/);
await page.locator("#preview-counts").waitFor();
await shot("sync-preview", "en");
// The Office 365 Test reads the chosen employee's calendar through Microsoft Graph.
step("Office 365 test against a mailbox");
await go("/admin/office365");
await page.getByLabel("Mailbox to test").fill(env("EMP_CRM_USER"));
await page.getByRole("button", { name: "Test", exact: true }).click();
await expectText(`the calendar of ${env("EMP_CRM_USER")} can be read`);
await shot("office365", "en");

// A change made in the CRM arrives through the webhook and shows on the health page.
step("health");
await go("/admin/health");
if (env("WITH_EVENTS") === "1") {
  const r = await fetch(`${env("CRM_ROOT")}/_sim/records/company/1`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "Změněná firma a.s." }),
  });
  assert.ok(r.ok, `the simulator change failed: ${r.status}`);
  await page.waitForFunction(() => {
    const el = document.querySelector("[data-webhook-today]");
    return el && Number(el.textContent.replace(/\D/g, "")) >= 1;
  }, null, { timeout: 30000 });
} else {
  console.log("  (webhook receiver not on this server yet: the event step is skipped)");
}
// Every table says when it is empty; counts carry their unit; dates look like the server's.
await expectText("No failed jobs.");
if (env("WITH_IMPORT") === "1") {
  await page.locator("[data-last-import]").filter({ hasText: "records" }).waitFor();
  const last = await page.locator("[data-last-import]").innerText();
  assert.match(last, /\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} UTC/, `date format: ${last}`);
}
if (env("WITH_EVENTS") === "1") {
  const at = await page.locator("[data-webhook-last]").innerText();
  assert.match(at, /^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} UTC$/, `date format: ${at}`);
}
await shot("health", "en");
// The audit log speaks in words and names, not codes and ids.
await go("/admin/audit");
await expectText("Webhook registered in Raynet");
await expectText("The setup link");
const audit = await page.locator("#audit").innerText();
assert.ok(!/employee\.create|employee:[0-9a-f-]{8}/.test(audit), `raw codes in the audit log: ${audit}`);
const serverDate = await page.locator("#audit tbody td").first().innerText();
assert.match(serverDate, /^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} UTC$/);
await shot("audit", "en");
await go("/admin/account");
await shot("account", "en");

// Czech: switch with the language select and see every page again.
step("Czech");
await page.getByLabel("Language").selectOption("cs");
// The select submits its form; the same page comes back in Czech.
await page.waitForSelector('html[lang="cs"]');
assert.match(page.url(), /\/admin\/account/);
await expectText("Změna hesla");
const pages = {
  company: "/admin/company", crm: "/admin/crm", webhook: "/admin/webhook", import: "/admin/import",
  office365: "/admin/office365", employees: "/admin/employees", employee: employeePath, sync: "/admin/sync",
  "sync-trace": "/admin/sync/trace", "sync-preview": "/admin/sync/preview",
  health: "/admin/health", audit: "/admin/audit", account: "/admin/account",
};
for (const [name, path] of Object.entries(pages)) {
  await go(path);
  assert.equal(await page.getAttribute("html", "lang"), "cs", path);
  await shot(name, "cs");
  if (name === "sync") {
    await page.locator("#sync-rules").screenshot({ path: `${DOCS_SHOTS}/sync-rules-cs.png` });
  }
}
await expectText("Můj účet");
await page.getByRole("button", { name: "Odhlásit se" }).click();
await page.waitForURL(/\/admin\/login/);
await shot("login", "cs");

// Responsive: the navigation stays usable on a phone-sized screen.
await page.setViewportSize({ width: 390, height: 800 });
await page.getByLabel("E-mail").fill(env("ADMIN_EMAIL"));
await page.getByLabel("Heslo").fill(env("ADMIN_PASSWORD"));
await page.getByRole("button", { name: "Přihlásit se" }).click();
await page.waitForURL(/\/admin\/company/);
await page.getByRole("link", { name: "Stav" }).click();
await page.waitForURL(/\/admin\/health/);
await page.screenshot({ path: `${SHOTS}/health-cs-phone.png`, fullPage: true });

await browser.close();
console.log("admin UI walk: ok");
