// CRM Bridge admin UI: small progressive enhancements. Every page works without this file
// except the live parts (import progress, webhook counters, job list), which need it.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var strings = document.getElementById("i18n");
  function t(name, values) {
    var text = (strings && strings.getAttribute("data-t-" + name)) || "";
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(values[k]); });
    return text;
  }
  var lang = (strings && strings.getAttribute("data-lang")) || document.documentElement.lang || "en";
  // Moments as the server writes them (`Tr::datetime` in server/src/i18n.rs), in UTC, so a page
  // never mixes two formats: "3 Dec 2026, 08:26 UTC" / "3. 12. 2026 08:26 UTC".
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function when(value) {
    if (!value) return "—";
    var d = new Date(value);
    if (isNaN(d)) return String(value);
    var time = two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()) + " UTC";
    return lang === "cs"
      ? d.getUTCDate() + ". " + (d.getUTCMonth() + 1) + ". " + d.getUTCFullYear() + " " + time
      : d.getUTCDate() + " " + MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear() + ", " + time;
  }
  function num(n) { return typeof n === "number" ? n.toLocaleString(lang) : "—"; }
  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); });
  }
  function post(url) {
    return fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, Accept: "application/json" } });
  }
  function setText(sel, text) {
    document.querySelectorAll(sel).forEach(function (el) { el.textContent = text; });
  }

  // Language switch submits on change; confirmations; copy buttons.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
  document.querySelectorAll("button[data-confirm]").forEach(function (b) {
    b.addEventListener("click", function (e) { if (!window.confirm(b.getAttribute("data-confirm"))) e.preventDefault(); });
  });
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var el = document.querySelector(b.getAttribute("data-copy"));
      if (el && navigator.clipboard) navigator.clipboard.writeText(el.textContent);
    });
  });

  // Webhook counters (webhook and health pages).
  function webhookEvents() {
    if (!document.querySelector("[data-webhook-last]")) return;
    getJson("/api/admin/webhook/events").then(function (s) {
      setText("[data-webhook-last]", s.last_received_at ? when(s.last_received_at) : t("never"));
      setText("[data-webhook-today]", num(s.today));
      setText("[data-webhook-pending]", num(s.pending));
      setText("[data-webhook-failed]", num(s.failed));
      var rejected = document.querySelector("[data-webhook-rejected]");
      if (rejected) {
        rejected.textContent = num(s.rejected) + (s.last_rejected_at ? " (" + when(s.last_rejected_at) + ")" : "");
        rejected.classList.toggle("failure", s.rejected > 0);
      }
    }).catch(function () { setText("[data-webhook-last]", t("unavailable")); });
  }

  // Job queue and failed jobs (health page).
  function jobs() {
    var table = document.querySelector("#failed-jobs tbody");
    if (!table) return;
    getJson("/api/admin/jobs?status=failed").then(function (s) {
      setText("[data-jobs-queued]", num(s.queued));
      setText("[data-jobs-failed]", num(s.failed));
      table.textContent = "";
      (s.jobs || []).forEach(function (job) {
        var tr = document.createElement("tr");
        [job.kind, num(job.attempts), job.last_error || "", when(job.created_at)].forEach(function (v) {
          var td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
        });
        var td = document.createElement("td");
        var b = document.createElement("button");
        b.type = "button"; b.textContent = t("retry");
        b.addEventListener("click", function () {
          b.disabled = true;
          post("/api/admin/jobs/" + encodeURIComponent(job.id) + "/retry").then(function (r) {
            b.textContent = r.ok ? t("retried") : t("unavailable");
          });
        });
        td.appendChild(b); tr.appendChild(td); table.appendChild(tr);
      });
      if (!(s.jobs || []).length) {
        var tr = document.createElement("tr"), td = document.createElement("td");
        td.colSpan = 5; td.textContent = t("no-failed"); tr.appendChild(td); table.appendChild(tr);
      }
    }).catch(function () {
      setText("[data-jobs-queued]", t("unavailable"));
      setText("[data-jobs-failed]", t("unavailable"));
    });
  }

  // Import progress and history.
  var KINDS = ["company", "person", "project", "business_case"];
  function showRun(run) {
    setText("#import-status", t(run.status) || run.status);
    (run.kinds || []).forEach(function (k) {
      var bar = document.getElementById("bar-" + k.kind);
      var detail = document.getElementById("detail-" + k.kind);
      if (!bar || !detail) return;
      var pct = k.total ? Math.min(100, Math.round((k.done / k.total) * 100)) : (run.status === "done" ? 100 : 0);
      bar.value = pct;
      bar.setAttribute("aria-valuetext", pct + " %");
      var parts = [k.total == null ? t("progress-unknown", { done: num(k.done) })
                                   : t("progress", { done: num(k.done), total: num(k.total) })];
      if (k.rate_per_s) parts.push(t("rate", { rate: num(Math.round(k.rate_per_s)) }));
      if (k.errors) parts.push(t("errors", { errors: num(k.errors) }));
      detail.textContent = parts.join(" · ");
    });
    // An estimate needs progress to extrapolate from; before that, say it is being made.
    var moving = (run.kinds || []).some(function (k) { return k.done > 0; });
    var eta = run.status !== "running" ? "" : !moving || run.eta_s == null ? t("estimating")
      : t("eta", { eta: num(Math.max(1, run.eta_s)) });
    setText("#import-eta", eta);
    setText("#import-error", run.error || "");
  }
  function itemsOf(run) {
    return (run.kinds || []).reduce(function (sum, k) { return sum + (k.done || 0); }, 0);
  }
  function history() {
    var body = document.querySelector("#import-history tbody");
    var last = document.querySelector("[data-last-import]");
    if (!body && !last) return Promise.resolve([]);
    return getJson("/api/admin/import").then(function (s) {
      var runs = s.runs || [];
      if (last) last.textContent = runs.length ? t(runs[0].status) + " · " + when(runs[0].finished_at || runs[0].started_at) + " · " + t("records", { count: num(itemsOf(runs[0])) }) : t("none");
      if (body) {
        body.textContent = "";
        runs.forEach(function (run) {
          var tr = document.createElement("tr");
          [when(run.started_at), when(run.finished_at), t(run.status) || run.status, num(itemsOf(run)), run.error || ""].forEach(function (v) {
            var td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
          });
          body.appendChild(tr);
        });
        if (!runs.length) {
          var tr = document.createElement("tr"), td = document.createElement("td");
          td.colSpan = 5; td.textContent = t("none"); tr.appendChild(td); body.appendChild(tr);
        }
      }
      return runs;
    }).catch(function () {
      if (body) body.innerHTML = "<tr><td colspan=5></td></tr>", body.querySelector("td").textContent = t("unavailable");
      if (last) last.textContent = t("unavailable");
      return [];
    });
  }
  function follow(runId) {
    var button = document.getElementById("run-import");
    if (button) button.disabled = true;
    var source = new EventSource("/api/admin/import/" + encodeURIComponent(runId) + "/events");
    source.addEventListener("progress", function (e) {
      var run; try { run = JSON.parse(e.data); } catch (err) { return; }
      showRun(run);
      if (run.status === "done" || run.status === "failed") {
        source.close();
        if (button) button.disabled = false;
        history();
      }
    });
    source.onerror = function () {
      // The stream ends after the last event; fetch the final state once.
      source.close();
      getJson("/api/admin/import/" + encodeURIComponent(runId)).then(showRun).catch(function () {});
      if (button) button.disabled = false;
      history();
    };
  }
  var run = document.getElementById("run-import");
  if (run) {
    run.addEventListener("click", function () {
      run.disabled = true;
      setText("#import-error", "");
      KINDS.forEach(function (k) { var b = document.getElementById("bar-" + k); if (b) b.value = 0; });
      post("/api/admin/import").then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (r.status === 409) { setText("#import-error", t("busy")); run.disabled = false; return; }
          if (!r.ok) { setText("#import-error", (body.error && body.error.message) || t("unavailable")); run.disabled = false; return; }
          setText("#import-status", t("queued"));
          follow(body.run_id);
        });
      }).catch(function () { setText("#import-error", t("unavailable")); run.disabled = false; });
    });
  }
  history().then(function (runs) {
    if (run && runs.length && (runs[0].status === "running" || runs[0].status === "queued")) {
      showRun(runs[0]); follow(runs[0].run_id);
    } else if (run && runs.length) {
      showRun(runs[0]);
    }
  });
  webhookEvents();
  jobs();
  if (document.getElementById("health-webhook")) {
    setInterval(function () { webhookEvents(); jobs(); history(); }, 3000);
  }
})();
