#!/usr/bin/env python3
"""Drive headless Chromium over the DevTools protocol: open the push example's page, wait
until its WebSocket is connected, publish a message for its token, wait until the page shows
it, save a screenshot.

usage: browser.py CHROMIUM PORT SCREENSHOT.png
Prints "received: <the list item's text>" on success; exits non-zero with the reason otherwise.
"""
import asyncio, base64, json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request

from websockets.asyncio.client import connect

TIMEOUT = 60  # seconds for the whole run (Chromium's first start can be slow)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def main(chromium, port, shot):
    token = "browser-test"
    page_url = f"http://127.0.0.1:{port}/?token={token}"
    devtools = free_port()
    profile = tempfile.mkdtemp(prefix="ringhttpd-chromium-")
    proc = subprocess.Popen(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}",
         f"--remote-debugging-port={devtools}", "--window-size=800,500", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + TIMEOUT
    try:
        # The DevTools endpoint of the blank page.
        target = None
        while target is None:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("chromium did not start: " + proc.stderr.read(4000).decode(errors="replace") if proc.poll() is not None else "chromium did not start in time")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{devtools}/json", timeout=2) as r:
                    pages = [t for t in json.load(r) if t.get("type") == "page"]
                    target = pages[0]["webSocketDebuggerUrl"] if pages else None
            except OSError:
                pass
            if target is None:
                await asyncio.sleep(0.2)
        async with connect(target, max_size=2**26) as cdp:
            ids = iter(range(1, 1 << 30))

            async def call(method, **params):
                i = next(ids)
                await cdp.send(json.dumps({"id": i, "method": method, "params": params}))
                while True:
                    m = json.loads(await asyncio.wait_for(cdp.recv(), max(1, deadline - time.monotonic())))
                    if m.get("id") == i:
                        if "error" in m:
                            raise SystemExit(f"{method}: {m['error']}")
                        return m.get("result", {})

            async def evaluate(expr):
                r = await call("Runtime.evaluate", expression=expr, returnByValue=True)
                return r.get("result", {}).get("value")

            async def until(expr, what):
                while True:
                    v = await evaluate(expr)
                    if v:
                        return v
                    if time.monotonic() > deadline:
                        state = await evaluate("document.getElementById('state') && document.getElementById('state').textContent")
                        raise SystemExit(f"timed out waiting for {what} (page state: {state!r})")
                    await asyncio.sleep(0.1)

            await call("Page.enable")
            await call("Page.navigate", url=page_url)
            await until("document.getElementById('state') && document.getElementById('state').textContent === 'connected'", "the page's WebSocket to connect")
            body = json.dumps({"token": token, "message": "hello from the test, ☃"}).encode()
            with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/message", data=body), timeout=5) as r:
                sent = json.load(r)["id"]
            text = await until("(document.querySelector('#messages li') || {}).textContent", "the message to show")
            want = f"#{sent}: hello from the test, ☃"
            if text != want:
                raise SystemExit(f"the page shows {text!r}, expected {want!r}")
            shot_data = await call("Page.captureScreenshot", format="png")
            with open(shot, "wb") as f:
                f.write(base64.b64decode(shot_data["data"]))
            print(f"received: {text}")
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
