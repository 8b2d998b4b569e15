// Ground-check page: record visits with or without a signal.
// Each visit gets an id made on the phone and waits in IndexedDB ("outbox") until the portal has stored
// it; the portal stores a visit once per id, so sending again after a lost answer is harmless. A visit the
// portal refused (a GPS fix outside Indonesia, say) stays on the phone, marked with the portal's message,
// until the facilitator corrects it (same id, sent again) or discards it.
(function () {
  "use strict";
  const root = document.getElementById("groundcheck");
  if (!root) return;
  const msg = root.dataset;
  const endpoint = msg.endpoint;
  const form = document.getElementById("visit-form");
  const outboxCount = document.getElementById("outbox-count");
  const outboxList = document.getElementById("outbox-list");
  const netStatus = document.getElementById("net-status");
  const errorBox = document.getElementById("visit-error");
  const items = Array.from(form.querySelectorAll("[data-item]"));
  const CHECKLIST = new Set(items.map((item) => item.dataset.item));
  const DB_NAME = "dtsen-groundcheck";
  const STORE = "outbox";
  const MAX_PHOTOS = 4;
  // Photos are shrunk on the phone: a village's signal is slow and the portal keeps 1600 px at most anyway.
  const PHOTO_MAX_SIDE = 1600;
  const PHOTO_QUALITY = 0.8;
  let flushing = false;
  let flushAgain = false;  // asked to send while a round of sending was under way
  let editing = null;  // the refused outbox record being corrected, if any
  let dropKeptPhotos = false;  // its photos are not to be sent again (one the portal could not read, say)

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
  // Older versions of this page marked a refused visit with `error` only.
  const isRefused = (record) => Boolean(record.refused || record.error);

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

  function labelOf(record) {
    const row = rowOf(record.fields.assignment);
    return record.label || (row && row.dataset.label) || `${msg.msgVisitOf} ${record.fields.assignment}`;
  }

  function button(text, cls, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = cls;
    b.textContent = text;
    b.addEventListener("click", onClick);
    return b;
  }

  function outboxEntry(record) {
    const li = document.createElement("li");
    li.dataset.uuid = record.uuid;
    const title = document.createElement("strong");
    title.textContent = labelOf(record);
    const state = document.createElement("p");
    state.className = "small state";
    li.append(title, state);
    if (!isRefused(record)) {
      state.textContent = msg.msgWaiting;
      return li;
    }
    li.classList.add("refused");
    state.textContent = `${msg.msgError}: ${record.error || ""}`;
    const actions = document.createElement("p");
    actions.className = "actions";
    const confirm = document.createElement("div");
    confirm.className = "confirm";
    confirm.hidden = true;
    const question = document.createElement("p");
    question.textContent = msg.msgDiscardQuestion;
    confirm.append(question,
      button(msg.msgDiscardYes, "button danger", async () => {
        await outboxDelete(record.uuid);
        markRow(record.fields.assignment, "");
        if (editing && editing.uuid === record.uuid) closeForm();
        await refreshOutbox();
      }),
      document.createTextNode(" "),
      button(msg.msgKeep, "button secondary", () => { confirm.hidden = true; actions.hidden = false; }));
    actions.append(button(msg.msgEdit, "button secondary", () => openForm(record.fields.assignment, record)),
      document.createTextNode(" "),
      button(msg.msgDiscard, "button secondary", () => { actions.hidden = true; confirm.hidden = false; }));
    li.append(actions, confirm);
    return li;
  }

  async function refreshOutbox() {
    const records = await outboxAll();
    outboxCount.textContent = String(records.length);
    outboxList.replaceChildren(...records.map(outboxEntry));
    // The portal's message is in the outbox list above; the family's row only says where its visit is.
    records.forEach((r) => markRow(r.fields.assignment, isRefused(r) ? msg.msgError : msg.msgWaiting));
  }

  function showNetwork() {
    const online = navigator.onLine;
    netStatus.textContent = online ? msg.msgOnline : msg.msgOffline;
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

  function requestBody(record) {
    const body = new FormData();
    Object.entries(record.fields).forEach(([key, value]) => {
      if (key.startsWith("check_")) return;  // the answers as tapped, kept only to reopen the form
      [].concat(value).forEach((v) => body.append(key, v));
    });
    body.append("client_uuid", record.uuid);
    (record.photos || []).forEach((p, i) => body.append("photos", p, p.name || `foto-${i + 1}.jpg`));
    return body;
  }

  async function flush() {
    if (!navigator.onLine) return;
    if (flushing) {
      flushAgain = true;  // a visit saved meanwhile is not in the round under way
      return;
    }
    flushing = true;
    flushAgain = false;
    try {
      for (const record of await outboxAll()) {
        if (isRefused(record)) continue;  // sent again only once corrected
        let response;
        try {
          // "manual": a redirect (to the login page, say) is never followed and never taken for "stored".
          response = await fetch(endpoint, {method: "POST", body: requestBody(record), credentials: "same-origin",
                                            redirect: "manual",
                                            headers: {"X-CSRFToken": csrfToken(), "Accept": "application/json"}});
        } catch (networkError) {
          break;  // still no connection: try again on the next "online" event or page load
        }
        const data = await jsonOf(response);
        if (response.ok && data && data.client_uuid === record.uuid) {
          // Removed only when the portal confirms this very visit by the id the phone made.
          await outboxDelete(record.uuid);
          markRow(record.fields.assignment, msg.msgSent, "sent");
        } else if (response.status === 401) {
          showLogin(data && data.login_url);  // the session ended: keep everything until the user is back
          break;
        } else if (response.status >= 400 && response.status < 500 && data) {
          // The portal refused it: keep it, say why, and wait for the facilitator to correct or discard it.
          record.refused = true;
          record.errors = data.errors || {};
          // Latitude and longitude often carry the same message: said once.
          record.error = [...new Set(Object.values(record.errors).flat())].join(" ") || String(response.status);
          await outboxPut(record);
        } else {
          break;  // a redirect, an unexpected page or a struggling server: keep it and try later
        }
      }
    } finally {
      flushing = false;
      await refreshOutbox();
    }
    if (flushAgain) flush();
  }

  // -- the checklist: each item beside the register's value, answered "as registered", "not as
  // registered" or "change value" (which shows the field's input) ------------------------------------------

  const radiosOf = (item) => Array.from(item.querySelectorAll("input[type=radio]"));
  const inputOf = (item) => form.elements[item.dataset.item];

  function statusOf(item) {
    const chosen = radiosOf(item).find((r) => r.checked);
    return chosen ? chosen.value : "";
  }

  function showItem(item) {
    const status = statusOf(item);
    item.dataset.status = status;
    item.querySelector(".checkitem-input").hidden = status !== "change";
    radiosOf(item).forEach((r) => { r.dataset.was = r.checked ? "1" : ""; });
  }

  function setStatus(item, status) {
    radiosOf(item).forEach((r) => { r.checked = r.value === status; });
    showItem(item);
  }

  items.forEach((item) => {
    item.addEventListener("click", (event) => {
      const radio = event.target;
      if (!(radio instanceof HTMLInputElement) || radio.type !== "radio") return;
      if (radio.dataset.was === "1") radio.checked = false;  // tapped again: back to "not checked"
      showItem(item);
      showError(item.dataset.item, "");
      if (statusOf(item) === "change") {
        const input = inputOf(item);
        if (!input.value) input.value = item.dataset.registerValue || "";
        input.focus();
      }
    });
  });

  document.getElementById("all-agree").addEventListener("click", () => {
    // Items already answered keep their answer; an item the register holds nothing for cannot agree.
    items.filter((item) => !statusOf(item) && item.dataset.registerValue).forEach((item) => setStatus(item, "agree"));
  });

  function showError(key, text) {
    const slot = form.querySelector(`[data-error-for="${key}"]`);
    if (!slot) return false;
    slot.textContent = text;
    slot.hidden = !text;
    return true;
  }

  function clearErrors() {
    form.querySelectorAll("[data-error-for]").forEach((slot) => { slot.textContent = ""; slot.hidden = true; });
    errorBox.textContent = "";
  }

  function showServerErrors(errors) {
    const general = [], bySlot = {};
    Object.entries(errors || {}).forEach(([key, list]) => {
      const slot = ["latitude", "longitude", "accuracy_m"].includes(key) ? "gps" : key;
      const text = [].concat(list).join(" ");
      if (slot === "gps" && bySlot.gps === text) return;
      bySlot[slot] = bySlot[slot] ? `${bySlot[slot]} ${text}` : text;
    });
    Object.entries(bySlot).forEach(([slot, text]) => { if (!showError(slot, text)) general.push(text); });
    errorBox.textContent = general.join(" ");
  }

  // As the portal writes them (dtsen_portal.formats.coordinates): a decimal point and the hemisphere.
  function coordinates(lat, lon) {
    return `${Math.abs(lat).toFixed(6)}° ${lat >= 0 ? msg.north : msg.south}, `
      + `${Math.abs(lon).toFixed(6)}° ${lon >= 0 ? msg.east : msg.west}`;
  }

  function readGps(fresh) {
    const gps = document.getElementById("gps-status");
    if (!navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition((pos) => {
      form.elements.latitude.value = pos.coords.latitude.toFixed(6);
      form.elements.longitude.value = pos.coords.longitude.toFixed(6);
      form.elements.accuracy_m.value = Math.round(pos.coords.accuracy);
      gps.textContent = `GPS: ${coordinates(pos.coords.latitude, pos.coords.longitude)} (±${Math.round(pos.coords.accuracy)} m)`;
    }, () => { gps.textContent = "GPS: -"; },
    {enableHighAccuracy: true, timeout: 15000, maximumAge: fresh ? 0 : 60000});
  }

  function prefill(record) {
    const f = record.fields;
    const mismatches = [].concat(f.mismatches || []);
    items.forEach((item) => {
      const name = item.dataset.item;
      const value = f[name] || "";
      let status = f[`check_${name}`] || "";
      if (!status && value) status = value === item.dataset.registerValue ? "agree" : "change";
      if (!status && mismatches.includes(name)) status = "disagree";
      // The family's row (and so the register) is no longer on the page: keep what was recorded as a value.
      if (status !== "change" && !item.dataset.registerValue) status = value ? "change" : "";
      setStatus(item, status);
      if (status === "change") inputOf(item).value = value;
    });
    if (f.recommendation) form.elements.recommendation.value = f.recommendation;
    form.elements.findings.value = f.findings || "";
    const errors = record.errors || {};
    // A refused position is not sent again: the phone reads it afresh (or the visit goes without one).
    if (!("latitude" in errors || "longitude" in errors)) {
      ["latitude", "longitude", "accuracy_m"].forEach((k) => { form.elements[k].value = f[k] || ""; });
    }
    const kept = document.getElementById("kept-photos");
    const count = (record.photos || []).length;
    kept.hidden = !count;
    kept.querySelector("span").textContent = `${msg.msgKeptPhotos} ${count}`;
    showServerErrors(errors);
  }

  function openForm(assignment, record) {
    const row = rowOf(assignment);
    form.reset();
    clearErrors();
    editing = record || null;
    dropKeptPhotos = false;
    const register = row ? JSON.parse(row.dataset.register || "{}") : {};
    items.forEach((item) => {
      const [value, label] = register[item.dataset.item] || ["", ""];
      item.dataset.registerValue = value;
      item.querySelector("[data-register-text]").textContent = value ? label : msg.msgNotInRegister;
      radiosOf(item).filter((r) => r.value !== "change").forEach((r) => { r.disabled = !value; });
      setStatus(item, "");
    });
    form.elements.assignment.value = assignment;
    // reset() leaves hidden inputs as they were: the last visit's position must not pass for this one's.
    ["latitude", "longitude", "accuracy_m"].forEach((k) => { form.elements[k].value = ""; });
    document.getElementById("gps-status").textContent = msg.msgGpsWaiting;
    document.getElementById("visit-family").textContent = record ? labelOf(record) : row.dataset.label;
    document.getElementById("visit-editing").hidden = !record;
    document.getElementById("kept-photos").hidden = true;
    if (record) prefill(record);
    form.hidden = false;
    form.scrollIntoView({behavior: "smooth"});
    // A corrected visit keeps where it was made, unless that position was refused: then a new fix, not the
    // phone's cached one.
    if (!record || !form.elements.latitude.value) readGps(Boolean(record));
  }

  function closeForm() {
    editing = null;
    form.hidden = true;
  }

  // -- photos are shrunk before they are kept and sent; anything the browser cannot decode goes as it is
  // (the portal checks and re-encodes every photo itself) ---------------------------------------------------

  async function decode(file) {
    if (window.createImageBitmap) {
      try {
        return await createImageBitmap(file, {imageOrientation: "from-image"});
      } catch (error) { /* try the <img> way below */ }
    }
    return new Promise((resolve, reject) => {
      const url = URL.createObjectURL(file);
      const img = new Image();
      img.onload = () => { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = () => { URL.revokeObjectURL(url); reject(new Error("undecodable")); };
      img.src = url;
    });
  }

  async function shrinkPhoto(file) {
    try {
      const image = await decode(file);
      const width = image.naturalWidth || image.width, height = image.naturalHeight || image.height;
      if (!width || !height) return file;
      const scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(width, height));
      if (scale === 1 && file.type === "image/jpeg") return file;  // already small enough
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(width * scale);
      canvas.height = Math.round(height * scale);
      canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
      if (image.close) image.close();
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", PHOTO_QUALITY));
      if (!blob || (scale === 1 && blob.size >= file.size)) return file;
      const name = (file.name || "foto").replace(/\.[^.]*$/, "") + ".jpg";
      return new File([blob], name, {type: "image/jpeg", lastModified: file.lastModified});
    } catch (error) {
      return file;  // not decodable here (HEIC on some phones, say): the portal says what it makes of it
    }
  }

  async function saveVisit(event) {
    event.preventDefault();
    clearErrors();
    const data = new FormData(form);
    const fields = {};
    for (const [key, value] of data.entries()) {
      if (key === "photos" || key === "csrfmiddlewaretoken" || key.startsWith("check_") || CHECKLIST.has(key)) {
        continue;
      }
      fields[key] = value;
    }
    const mismatches = [];
    let firstBad = null;
    items.forEach((item) => {
      const name = item.dataset.item, status = statusOf(item);
      if (!status) return;  // not checked on this visit
      fields[`check_${name}`] = status;
      if (status === "agree") {
        fields[name] = item.dataset.registerValue;
      } else if (status === "disagree") {
        mismatches.push(name);
      } else if (inputOf(item).value) {
        fields[name] = inputOf(item).value;
      } else {
        showError(name, msg.msgChooseValue);
        firstBad = firstBad || inputOf(item);
      }
    });
    if (mismatches.length) fields.mismatches = mismatches;
    if (!data.get("recommendation")) {
      showError("recommendation", msg.msgRecommendation);
      firstBad = firstBad || form.querySelector("input[name=recommendation]");
    }
    const chosen = data.getAll("photos").filter((p) => p && p.size);
    if (chosen.length > MAX_PHOTOS) {
      showError("photos", msg.msgTooManyPhotos);
      firstBad = firstBad || form.elements.photos;
    }
    if (firstBad) {
      firstBad.focus();
      return;
    }
    const submit = form.querySelector("button[type=submit]");
    const progress = document.getElementById("visit-progress");
    submit.disabled = true;
    progress.textContent = chosen.length ? msg.msgSaving : "";
    try {
      const kept = editing && !dropKeptPhotos ? editing.photos || [] : [];
      const photos = chosen.length ? await Promise.all(chosen.map(shrinkPhoto)) : kept;
      // A corrected visit keeps its id (the portal stored nothing under it) and the time it was made.
      fields.visited_at = editing ? editing.fields.visited_at : new Date().toISOString();
      const row = rowOf(fields.assignment);
      await outboxPut({uuid: editing ? editing.uuid : uuid4(), fields, photos, savedAt: Date.now(),
                       label: row ? row.dataset.label : (editing && editing.label)});
    } finally {
      submit.disabled = false;
      progress.textContent = "";
    }
    closeForm();
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

  document.querySelectorAll("button[data-visit]").forEach((b) => b.addEventListener("click",
    () => openForm(b.dataset.visit)));
  document.getElementById("visit-cancel").addEventListener("click", closeForm);
  document.getElementById("drop-kept-photos").addEventListener("click", () => {
    dropKeptPhotos = true;
    document.getElementById("kept-photos").hidden = true;
  });
  form.addEventListener("submit", saveVisit);
  window.addEventListener("online", () => { showNetwork(); flush(); });
  window.addEventListener("offline", showNetwork);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(msg.sw, {scope: msg.scope}).catch(() => {});
  }
  showNetwork();
  refreshOutbox().then(flush);
  nearestFirst();
  window.dtsenGroundcheck = {flush, outboxAll, shrinkPhoto};  // for the browser tests and the curious
})();
