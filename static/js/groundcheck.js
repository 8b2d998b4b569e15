// Ground-check page: record visits with or without a signal.
// Each visit gets an id made on the phone and waits in IndexedDB ("outbox") until the portal has stored
// it; the portal stores a visit once per id, so sending again after a lost answer is harmless.
(function () {
  "use strict";
  const root = document.getElementById("groundcheck");
  if (!root) return;
  const endpoint = root.dataset.endpoint;
  const form = document.getElementById("visit-form");
  const outboxCount = document.getElementById("outbox-count");
  const netStatus = document.getElementById("net-status");
  const errorBox = document.getElementById("visit-error");
  const DB_NAME = "dtsen-groundcheck";
  const STORE = "outbox";
  let flushing = false;

  function openDb() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, {keyPath: "uuid"});
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function store(mode, work) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const result = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      tx.onerror = () => reject(tx.error);
    });
  }

  const outboxAll = () => store("readonly", (s) => s.getAll());
  const outboxPut = (record) => store("readwrite", (s) => s.put(record));
  const outboxDelete = (uuid) => store("readwrite", (s) => s.delete(uuid));

  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function csrfToken() {
    const field = form.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function rowOf(assignment) {
    return document.querySelector(`li[data-assignment="${assignment}"]`);
  }

  function markRow(assignment, text, cls) {
    const row = rowOf(assignment);
    if (!row) return;
    row.querySelector("[data-state]").textContent = text;
    if (cls) row.classList.add(cls);
  }

  async function refreshOutbox() {
    const records = await outboxAll();
    outboxCount.textContent = String(records.length);
    records.forEach((r) => markRow(r.fields.assignment, r.error ? `${root.dataset.msgError}: ${r.error}`
      : root.dataset.msgWaiting));
  }

  function showNetwork() {
    const online = navigator.onLine;
    netStatus.textContent = online ? root.dataset.msgOnline : root.dataset.msgOffline;
    netStatus.classList.toggle("offline", !online);
  }

  async function jsonOf(response) {
    const type = response.headers.get("Content-Type") || "";
    if (!type.includes("application/json")) return null;
    return response.json().catch(() => null);
  }

  function showLogin(url) {
    const box = document.getElementById("session-ended");
    if (!box) return;
    const link = box.querySelector("a");
    if (url && link) link.href = url;
    box.hidden = false;
  }

  async function flush() {
    if (flushing || !navigator.onLine) return;
    flushing = true;
    try {
      for (const record of await outboxAll()) {
        const body = new FormData();
        Object.entries(record.fields).forEach(([k, v]) => body.append(k, v));
        body.append("client_uuid", record.uuid);
        (record.photos || []).forEach((p, i) => body.append("photos", p, p.name || `foto-${i + 1}.jpg`));
        let response;
        try {
          // "manual": a redirect (to the login page, say) is never followed and never taken for "stored".
          response = await fetch(endpoint, {method: "POST", body, credentials: "same-origin", redirect: "manual",
                                            headers: {"X-CSRFToken": csrfToken(), "Accept": "application/json"}});
        } catch (networkError) {
          break;  // still no connection: try again on the next "online" event or page load
        }
        const data = await jsonOf(response);
        if (response.ok && data && data.client_uuid === record.uuid) {
          // Removed only when the portal confirms this very visit by the id the phone made.
          await outboxDelete(record.uuid);
          markRow(record.fields.assignment, root.dataset.msgSent, "sent");
        } else if (response.status === 401) {
          showLogin(data && data.login_url);  // the session ended: keep everything until the user is back
          break;
        } else if (response.status >= 400 && response.status < 500 && data) {
          // The portal refused it (a bad GPS fix, say): keep it, say why, do not loop on it.
          record.error = Object.values(data.errors || {}).flat().join(" ") || String(response.status);
          await outboxPut(record);
        } else {
          break;  // a redirect, an unexpected page or a struggling server: keep it and try later
        }
      }
    } finally {
      flushing = false;
      await refreshOutbox();
    }
  }

  function openForm(button) {
    const row = button.closest("li");
    form.reset();
    errorBox.textContent = "";
    form.hidden = false;
    form.elements.assignment.value = row.dataset.assignment;
    document.getElementById("visit-family").textContent = row.dataset.label;
    form.scrollIntoView({behavior: "smooth"});
    const gps = document.getElementById("gps-status");
    if (navigator.geolocation) {
      navigator.geolocation.getCurrentPosition((pos) => {
        form.elements.latitude.value = pos.coords.latitude.toFixed(6);
        form.elements.longitude.value = pos.coords.longitude.toFixed(6);
        form.elements.accuracy_m.value = Math.round(pos.coords.accuracy);
        gps.textContent = `GPS: ${pos.coords.latitude.toFixed(5)}, ${pos.coords.longitude.toFixed(5)} (±${Math.round(pos.coords.accuracy)} m)`;
      }, () => { gps.textContent = "GPS: -"; }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    }
  }

  async function saveVisit(event) {
    event.preventDefault();
    const data = new FormData(form);
    if (!data.get("recommendation")) {
      errorBox.textContent = root.dataset.msgRecommendation;
      return;
    }
    const fields = {};
    for (const [key, value] of data.entries()) {
      if (key === "photos" || key === "csrfmiddlewaretoken") continue;
      fields[key] = value;
    }
    fields.visited_at = new Date().toISOString();
    const photos = data.getAll("photos").filter((p) => p && p.size);
    await outboxPut({uuid: uuid4(), fields, photos, savedAt: Date.now()});
    form.hidden = true;
    await refreshOutbox();
    flush();
  }

  function nearestFirst() {
    if (!navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition((pos) => {
      const list = document.getElementById("assignment-list");
      const here = [pos.coords.latitude, pos.coords.longitude];
      const distance = (li) => {
        const lat = parseFloat(li.dataset.lat), lon = parseFloat(li.dataset.lon);
        if (Number.isNaN(lat) || Number.isNaN(lon)) return Infinity;  // no GPS known: at the end
        return Math.hypot(lat - here[0], (lon - here[1]) * Math.cos(here[0] * Math.PI / 180));
      };
      Array.from(list.children).sort((a, b) => distance(a) - distance(b)).forEach((li) => list.appendChild(li));
    }, () => {}, {timeout: 10000, maximumAge: 300000});
  }

  document.querySelectorAll("button[data-visit]").forEach((b) => b.addEventListener("click", () => openForm(b)));
  document.getElementById("visit-cancel").addEventListener("click", () => { form.hidden = true; });
  form.addEventListener("submit", saveVisit);
  window.addEventListener("online", () => { showNetwork(); flush(); });
  window.addEventListener("offline", showNetwork);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(root.dataset.sw, {scope: root.dataset.scope}).catch(() => {});
  }
  showNetwork();
  refreshOutbox().then(flush);
  nearestFirst();
  window.dtsenGroundcheck = {flush, outboxAll};  // for the browser tests and the curious
})();
