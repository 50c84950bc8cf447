// The Office.js adapter behind addin-wasm's `office` module (window.crmBridgeOffice): turns the
// open item (read or compose, message or appointment) into one plain JSON object, forwards
// ItemChanged, and gets an access token (Nested App Authentication, else Office SSO).
(function () {
  "use strict";
  // Beside this script whether served from web/ or from a content-hashed folder of web/dist/.
  const msalUrl = new URL("../vendor/msal-browser.min.js", document.currentScript.src).href;
  const office = () => window.Office && Office.context;
  const call = (fn) => new Promise((resolve, reject) =>
    fn((r) => (r.status === "succeeded" ? resolve(r.value) : reject(r.error || new Error("Office call failed")))));
  const addr = (a) => (a ? { name: a.displayName || "", email: a.emailAddress || "" } : null);
  const addrs = (list) => (list || []).map(addr).filter(Boolean);
  // A property that is a plain value in read mode and an object with getAsync in compose mode.
  const get = async (value, ...args) =>
    value && typeof value.getAsync === "function" ? call((cb) => value.getAsync(...args, cb)) : value;
  const iso = (d) => (d instanceof Date ? d.toISOString() : d ? new Date(d).toISOString() : "");

  async function readItem() {
    const ctx = office();
    const item = ctx && ctx.mailbox && ctx.mailbox.item;
    if (!item) return null;
    const meeting = item.itemType === "appointment" || (window.Office && Office.MailboxEnums &&
      item.itemType === Office.MailboxEnums.ItemType.Appointment);
    const compose = typeof (item.subject && item.subject.getAsync) === "function";
    const text = window.Office && Office.CoercionType ? Office.CoercionType.Text : "text";
    const body = item.body ? await get(item.body, text).catch(() => "") : "";
    let itemId = item.itemId || "";
    if (!itemId && compose && typeof item.getItemIdAsync === "function") {
      itemId = await call((cb) => item.getItemIdAsync(cb)).catch(() => "");
    }
    const out = {
      kind: meeting ? "meeting" : "email",
      compose,
      mailbox: (ctx.mailbox.userProfile && ctx.mailbox.userProfile.emailAddress) || "",
      subject: (await get(item.subject)) || "",
      internet_message_id: item.internetMessageId || "",
      item_id: itemId,
      ical_uid: item.iCalUId || item.seriesId || "",
      body_text: String(body || "").slice(0, 100000),
      attachments: (item.attachments || []).map((a) => ({ name: a.name || "", size: a.size || 0 })),
    };
    if (meeting) {
      out.organizer = addr(await get(item.organizer));
      out.required = addrs(await get(item.requiredAttendees));
      out.optional = addrs(await get(item.optionalAttendees));
      out.start = iso(await get(item.start));
      out.end = iso(await get(item.end));
      const loc = await get(item.location);
      out.location = typeof loc === "string" ? loc : "";
      out.time_zone = (ctx.mailbox.userProfile && ctx.mailbox.userProfile.timeZone) || null;
    } else {
      out.from = addr(await get(item.from));
      out.to = addrs(await get(item.to));
      out.cc = addrs(await get(item.cc));
      out.sent_at = iso(item.dateTimeCreated || new Date());
    }
    return JSON.stringify(out);
  }

  function onItemChanged(handler) {
    const ctx = office();
    if (ctx && ctx.mailbox && typeof ctx.mailbox.addHandlerAsync === "function") {
      ctx.mailbox.addHandlerAsync(Office.EventType.ItemChanged, () => handler());
    }
  }

  function displayLanguage() {
    const ctx = office();
    return (ctx && ctx.displayLanguage) || navigator.language || "en-US";
  }

  // MSAL is large: loaded only when Outlook offers Nested App Authentication.
  const loadMsal = () => window.msal ? Promise.resolve() : new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = msalUrl;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error("MSAL could not be loaded"));
    document.head.appendChild(script);
  });

  let nestable = null;
  async function naaToken() {
    if (!nestable) {
      await loadMsal();
      const config = await (await fetch("/api/public/addin-config")).json();
      if (!config.client_id) throw new Error("the Office 365 app is not configured");
      nestable = {
        scopes: config.scopes,
        pca: await msal.createNestablePublicClientApplication({
          auth: { clientId: config.client_id, authority: config.authority },
        }),
      };
    }
    const request = { scopes: nestable.scopes };
    try {
      return (await nestable.pca.acquireTokenSilent(request)).accessToken;
    } catch (e) {
      return (await nestable.pca.acquireTokenPopup(request)).accessToken;
    }
  }

  async function getToken() {
    const ctx = office();
    const naa = ctx && ctx.requirements &&
      ctx.requirements.isSetSupported("NestedAppAuth", "1.1");
    if (naa) {
      try { return await naaToken(); } catch (e) { /* fall back to Office SSO below */ }
    }
    if (window.Office && Office.auth && typeof Office.auth.getAccessToken === "function") {
      return Office.auth.getAccessToken({ allowSignInPrompt: true, allowConsentPrompt: true });
    }
    throw new Error("no way to sign in in this Outlook");
  }

  window.crmBridgeOffice = { readItem, onItemChanged, displayLanguage, getToken };
})();
