"""A Flask app with a Server-Sent Events endpoint, written as a new user writes one, for
tests/test_browser_streaming.py and the `curl -N` probe in bench/README.md.

- `/` : a page whose script opens `EventSource('/events?...')` at once, records (with
  `performance.now()`) when the first event arrives, and 1.25 s after opening the stream
  fetches `/page`, timing it (aborted after 5 s). The results are in `window.__out`, and
  `window.__done` is a promise that resolves with them.
- `/events?interval=S&count=N` : `data: I` for I = 0 .. N-1, the first at once, then one every
  S seconds (a generator with `time.sleep`); `text/event-stream`.
- `/page` : a small plain HTML page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from flask import Flask, Response, request

app = Flask(__name__)

FETCH_AT_MS = 1250  # mid-gap for events 0.5 s and 3 s apart
FETCH_CAP_MS = 5000
FIRST_CAP_MS = 5000

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>sse timing</title></head>
<body><h1>SSE timing</h1><pre id="log"></pre>
<script>
const out = {first: null, opened: null, events: [], fetchMs: null, fetchStatus: null,
             fetchError: null, readyStateAtFetch: null};
window.__out = out;
window.__done = new Promise((resolve) => {
  const t0 = performance.now();
  const es = new EventSource("/events?interval=%(interval)s&count=%(count)s");
  window.__es = es;
  let firstDone = false, fetchDone = false;
  const finish = () => { if (firstDone && fetchDone) resolve(out); };
  es.onopen = () => { out.opened = performance.now() - t0; };
  es.onmessage = (e) => {
    const t = performance.now() - t0;
    out.events.push([e.data, t]);
    document.getElementById("log").textContent += e.data + " at " + t.toFixed(1) + " ms\\n";
    if (out.first === null) { out.first = t; firstDone = true; finish(); }
  };
  setTimeout(() => { firstDone = true; finish(); }, %(first_cap)d);
  setTimeout(async () => {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), %(fetch_cap)d);
    out.readyStateAtFetch = es.readyState;
    const s = performance.now();
    try {
      const r = await fetch("/page", {cache: "no-store", signal: ctl.signal});
      await r.text();
      out.fetchMs = performance.now() - s;
      out.fetchStatus = r.status;
    } catch (err) {
      out.fetchError = String(err) + " after " + (performance.now() - s).toFixed(0) + " ms";
    }
    clearTimeout(timer);
    fetchDone = true; finish();
  }, %(fetch_at)d);
});
</script></body></html>
"""


@app.get("/")
def index() -> Response:
    interval = float(request.args.get("interval", "3"))
    count = int(request.args.get("count", "8"))
    page = PAGE % {
        "interval": interval,
        "count": count,
        "first_cap": FIRST_CAP_MS,
        "fetch_cap": FETCH_CAP_MS,
        "fetch_at": FETCH_AT_MS,
    }
    return Response(page, mimetype="text/html")


@app.get("/events")
def events() -> Response:
    interval = min(float(request.args.get("interval", "3")), 5.0)
    count = min(int(request.args.get("count", "8")), 100)

    def stream() -> Iterator[str]:
        for i in range(count):
            if i:
                time.sleep(interval)
            yield f"data: {i}\n\n"

    return Response(stream(), mimetype="text/event-stream", headers={"Cache-Control": "no-cache"})


@app.get("/page")
def page() -> Response:
    return Response("<!doctype html><title>page</title><p>a plain page</p>\n", mimetype="text/html")
