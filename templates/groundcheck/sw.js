{% load static %}// Service worker of the ground-check page: it keeps the page and its files for use without a signal.
const CACHE = "dtsen-groundcheck-v2";
const PAGE = "{% url 'groundcheck-home' %}";
const FILES = [PAGE, "{% static 'css/portal.css' %}", "{% static 'js/groundcheck.js' %}"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

async function fromCache(request) {
  const cached = await caches.match(request, {ignoreSearch: true});
  if (!cached) return Response.error();
  // Marked, so the page (and the tests) can tell a copy kept for offline use from a fresh answer.
  const headers = new Headers(cached.headers);
  headers.set("X-Offline-Copy", "1");
  return new Response(await cached.blob(), {status: cached.status, statusText: cached.statusText, headers});
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;  // visits are queued by the page itself, never by the worker
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  // Fresh when online (and kept for later), the kept copy when not.
  event.respondWith(fetch(request).then((response) => {
    // Not a redirect: a page answered by the login page (expired session) must not replace the kept copy.
    if (response.ok && !response.redirected && (url.pathname === PAGE || url.pathname.startsWith("{% get_static_prefix %}"))) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(request, copy));
    }
    return response;
  }).catch(() => fromCache(request)));
});
