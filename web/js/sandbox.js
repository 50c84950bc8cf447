// The Outlook sandbox: a sample mailbox beside the real task pane (in an iframe), with a stub of
// the Office.js surface the pane uses. The pane adopts the stub through
// window.parent.crmBridgeSandbox (see taskpane.js). Tests drive it through the same object.
(function () {
  "use strict";
  const at = (days, hour, minutes) => {
    const d = new Date();
    d.setDate(d.getDate() + days);
    d.setHours(hour, minutes || 0, 0, 0);
    return d;
  };
  const items = [
    { type: "message", subject: "Nabídka na servis linky", from: "Jan Novák <jan.novak@vitkovice.cz>",
      to: "Demo User <demo@example.com>", cc: "", body: "Dobrý den,\nposílám nabídku na servis linky.\nJan Novák",
      internetMessageId: "<offer-1@vitkovice.cz>" },
    { type: "message", subject: "Re: Schůzka příští týden", from: "Demo User <demo@example.com>",
      to: "Jan Novák <jan.novak@vitkovice.cz>; Petra Malá <petra.mala@example.org>", cc: "",
      body: "Díky, potvrzuji úterý.", internetMessageId: "<reply-2@example.com>" },
    { type: "message", subject: "Newsletter", from: "News <newsletter@unknown-sender.example>",
      to: "Demo User <demo@example.com>", cc: "", body: "Nothing for the CRM.", internetMessageId: "<news-3@unknown-sender.example>" },
    { type: "appointment", subject: "Servis linky — kick-off", organizer: "Demo User <demo@example.com>",
      required: "Jan Novák <jan.novak@vitkovice.cz>; Karel Nový <karel.novy@vitkovice.cz>",
      start: at(1, 10), end: at(1, 11), location: "Ostrava, Ruská 2887", body: "Agenda: rozsah servisu.",
      iCalUId: "040000008200E00074C5B7101A82E0080000000052C1F3A0A1D5DB01" },
    { type: "message", compose: true, subject: "Koncept: doplnění nabídky", from: "Demo User <demo@example.com>",
      to: "Jan Novák <jan.novak@vitkovice.cz>", cc: "", body: "Dobrý den, posílám doplnění.", internetMessageId: "" },
  ];
  items.forEach((it, n) => { it.itemId = "AAMkSandbox" + n; });

  let current = 0;
  const handlers = [];
  const params = new URLSearchParams(location.hash.slice(1));
  const $ = (id) => document.getElementById(id);

  const parse = (text) => String(text || "").split(";").map((s) => s.trim()).filter(Boolean)
    .map((s) => {
      const m = s.match(/^(.*?)\s*<([^>]+)>$/);
      return m ? { displayName: m[1].replace(/^"|"$/g, ""), emailAddress: m[2] } : { displayName: s, emailAddress: s };
    });
  const ok = (value) => ({ status: "succeeded", value });

  function officeItem(it) {
    if (!it) return null;
    const body = { getAsync: (type, cb) => (cb || type)(ok(it.body)) };
    if (it.type === "appointment") {
      return { itemType: "appointment", itemId: it.itemId, iCalUId: it.iCalUId, subject: it.subject,
        organizer: parse(it.organizer)[0] || null, requiredAttendees: parse(it.required), optionalAttendees: [],
        start: new Date(it.start), end: new Date(it.end), location: it.location, body, attachments: [] };
    }
    if (it.compose) {
      // Compose mode: every property is an object with async getters, and no ids until saved.
      const async = (value) => ({ getAsync: (...args) => args[args.length - 1](ok(value)) });
      return { itemType: "message", subject: async(it.subject), from: async(parse(it.from)[0] || null),
        to: async(parse(it.to)), cc: async(parse(it.cc)), body, getItemIdAsync: (cb) => cb(ok(it.itemId)) };
    }
    return { itemType: "message", itemId: it.itemId, internetMessageId: it.internetMessageId, subject: it.subject,
      from: parse(it.from)[0] || null, to: parse(it.to), cc: parse(it.cc), dateTimeCreated: new Date(), body, attachments: [] };
  }

  function createOffice() {
    const context = {
      get displayLanguage() { return $("language").value; },
      requirements: { isSetSupported: () => false },
      mailbox: {
        get item() { return current === null ? null : officeItem(items[current]); },
        userProfile: { emailAddress: "demo@example.com", displayName: "Demo User", timeZone: "Europe/Prague" },
        addHandlerAsync: (type, handler, cb) => { handlers.push(handler); if (cb) cb(ok()); },
      },
    };
    return {
      context,
      onReady: (cb) => { const info = { host: "Outlook", platform: "PC" }; if (cb) cb(info); return Promise.resolve(info); },
      EventType: { ItemChanged: "olkItemSelectedChanged" },
      CoercionType: { Text: "text", Html: "html" },
      MailboxEnums: { ItemType: { Message: "message", Appointment: "appointment" } },
      auth: {
        getAccessToken: () => {
          const token = $("token").value.trim();
          return token ? Promise.resolve(token) : Promise.reject(new Error("no token: paste one at the top of the sandbox"));
        },
      },
    };
  }

  const local = (d) => { const x = new Date(d); x.setMinutes(x.getMinutes() - x.getTimezoneOffset()); return x.toISOString().slice(0, 16); };
  function showForm() {
    const it = current === null ? null : items[current];
    document.body.className = it ? it.type : "";
    $("reading").hidden = !it;
    if (!it) return;
    for (const el of document.querySelectorAll("[data-field]")) {
      const v = it[el.dataset.field];
      el.value = v instanceof Date ? local(v) : v || "";
    }
  }
  function showList() {
    $("mailbox").innerHTML = "";
    items.forEach((it, n) => {
      const li = document.createElement("li");
      li.dataset.index = n;
      li.setAttribute("aria-current", String(n === current));
      li.textContent = (it.type === "appointment" ? "📅 " : it.compose ? "✎ " : "✉ ") + it.subject;
      const small = document.createElement("small");
      small.textContent = it.type === "appointment" ? it.required : it.from;
      li.appendChild(small);
      $("mailbox").appendChild(li);
    });
  }
  function select(index) {
    current = index;
    showList();
    showForm();
    handlers.forEach((h) => h({ type: "olkItemSelectedChanged" }));
  }

  window.crmBridgeSandbox = { createOffice, select, items, get current() { return current; } };

  document.addEventListener("DOMContentLoaded", () => {
    $("token").value = params.get("token") || "";
    if (params.get("lang")) $("language").value = params.get("lang");
    $("mailbox").addEventListener("click", (e) => {
      const li = e.target.closest("li");
      if (li) select(Number(li.dataset.index));
    });
    $("none").addEventListener("click", () => select(null));
    // Outlook restarts add-ins when its display language changes; the sandbox tells the pane
    // the way Outlook tells it about anything: the open item changed.
    $("language").addEventListener("change", () => select(current));
    for (const el of document.querySelectorAll("[data-field]")) {
      el.addEventListener("input", () => {
        if (current === null) return;
        const f = el.dataset.field;
        items[current][f] = f === "start" || f === "end" ? new Date(el.value) : el.value;
        showList();
      });
    }
    showList();
    showForm();
    $("pane").src = "taskpane.html";
  });
})();
