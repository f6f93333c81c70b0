"""A class on one server: N students at once, each with their own photo, on the Feature maps page.

One real `streamlit run app.py` on loopback and N headless chromium sessions (one browser, one context per
student). Each student opens the app, picks Upload, uploads its own 300×200 photo, opens Feature maps and
switches layers three times, waiting a seeded random "think time" between actions as a person does; then
all of them close and the server is left alone for `--after` seconds.

Printed per class size:
- first Feature maps view (click on the link -> channel grid shown), p50/p95, as the browser sees it;
- layer switch (key press -> the grid's new picture in the page), p50/p95, as the browser sees it, and the
  server's own time for it: the layer column's script run, including encoding its pictures and charts into
  messages, measured inside the server (the page writes one line per run to $CNNVIZ_TIMING_LOG; unset, the
  app measures nothing). Wall time, the script thread's CPU time, and how long it waited for the model's
  lock. A session's first run of the layer column is part of its first view and is counted apart (it was
  counted among the switches before);
- errors (exception boxes, timeouts) and lost sessions (a "connection" box, or a page that never finished);
- server memory (VmRSS from /proc): before, peak while the class runs, `--after` seconds after it closed;
  peak growth per student; the feature cache's budget and resident bytes (from the timing log).

Once the server is up, the browsers (and this process) run under Linux's SCHED_IDLE policy (`--browsers idle`,
the default): in a room they run on the students' laptops, not on the server's cores, so here they get a core
only when the server leaves one free. A nice value can't do this: chromium sets its own processes' nice
values (renderers back to 0, its browser process to -8 when it may), which undid the earlier `nice 19`; a
policy is inherited by every process and thread and chromium leaves it alone, and the bench prints how many
of the browsers' threads were still SCHED_IDLE at the end. `--browsers equal` measures browsers and server
competing as equals.

The server runs as `make class` runs it, with torch's intra-op threads one fewer than the cores
(`OMP_NUM_THREADS`; `--env OMP_NUM_THREADS=2` measures all cores of this machine).

Bounded: at most 32 students per run, every wait has a timeout, and the server is stopped at the end.
Needs Debian's chromium and playwright. Run: .venv/bin/python bench/class.py --students 1,12,24
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _local import CHROMIUM, FLAGS, ROOT, free_port, serve  # bench/ is the script's folder
from PIL import Image

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "deploy"))
from replicas import start as start_replicas  # deploy/ is not a package
from replicas import stop_processes, threads_per_replica

MAX_STUDENTS = 32
LAYERS = ["features.1.conv.0", "features.2.conv.0", "features.3.conv.0", "features.4.conv.0"]
TIMEOUT_MS = 240_000


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of `pids` so far (summed), from /proc/<pid>/stat."""
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rss_mb(pids: list[int], field_name: str = "VmRSS") -> float:
    """Resident memory of `pids` in MB, summed (VmRSS now, or VmHWM: the peak since it started)."""
    total = 0.0
    for pid in pids:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        found = [int(line.split()[1]) for line in lines if line.startswith(field_name + ":")]
        if not found:
            raise ValueError(f"/proc/{pid}/status has no {field_name}")
        total += found[0] / 1024
    return total


class Sampler:
    """Samples the summed VmRSS of processes every `every` seconds in a thread; `peak` since `reset()`."""

    def __init__(self, pids: list[int], every: float = 0.2) -> None:
        self.pids, self.every, self.peak = pids, every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.peak = max(self.peak, rss_mb(self.pids))
            except (OSError, ValueError):
                return

    def reset(self) -> None:
        self.peak = rss_mb(self.pids)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def photo(seed: int) -> bytes:
    """A distinct 300×200 PNG per student: smooth colours and a few squares (noise would make a big PNG)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:200, 0:300]
    arr = np.zeros((200, 300, 3), np.float64)
    for c in range(3):
        fx, fy, ph = [*rng.uniform(0.005, 0.05, 2).tolist(), rng.uniform(0, 6.3)]
        arr[..., c] = 127 + 100 * np.sin(fx * xx + fy * yy + ph)
    for _ in range(4):
        x0, y0 = int(rng.integers(0, 250)), int(rng.integers(0, 150))
        arr[y0 : y0 + 50, x0 : x0 + 50] = rng.integers(0, 255, 3)
    buf = io.BytesIO()
    Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@dataclass
class Student:
    first_view: float | None = None
    switches: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lost: bool = False
    retries: int = 0  # clicks on Upload or Feature maps repeated because one was lost (in the browser)


async def _wait_idle(page, timeout: float = TIMEOUT_MS) -> None:
    await page.wait_for_timeout(300)
    await page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=timeout)


async def _new_src(page, index: int, old: str | None, timeout: float = TIMEOUT_MS) -> None:
    await page.wait_for_function(
        "([i, old]) => { const el = document.querySelectorAll(\"[data-testid='stImage'] img\")[i];"
        " return el && el.getAttribute('src') && el.getAttribute('src') !== old; }",
        arg=[index, old],
        timeout=timeout,
    )


async def student(browser, url: str, k: int, image: Path, think: float, tr) -> Student:
    out = Student()
    rng = random.Random(k)
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)

    async def pause() -> None:
        await page.wait_for_timeout(1000 * think * rng.uniform(0.5, 1.5))

    step = "arrive"
    try:
        await page.wait_for_timeout(1000 * think * rng.uniform(0, 1))  # a class does not arrive in one ms
        step = "open"
        await page.goto(url + "/?lang=en", wait_until="domcontentloaded")
        await page.get_by_role("heading", name=tr("app.title", "en")).wait_for()
        await _wait_idle(page)
        step = "pick upload"
        sidebar = page.locator("[data-testid='stSidebar']")
        dropzone = page.locator("[data-testid='stFileUploaderDropzoneInput']")
        for _ in range(3):  # a click that lands while the page is still rerunning can be lost: click again
            try:
                # The image source's button: the visible "Upload", not the checkpoint door's folded one.
                button = sidebar.get_by_text(tr("side.src.upload", "en"), exact=True).locator("visible=true")
                await button.first.click(timeout=30_000)
                await _wait_idle(page)
                await dropzone.first.wait_for(state="attached", timeout=15_000)
                break
            except Exception:
                out.retries += 1
        step = "upload"
        await page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(image))
        await _wait_idle(page)
        await pause()
        step = "first view"
        t0 = time.perf_counter()
        heading = page.get_by_role("heading", name=tr("page.features", "en"))
        for attempt in range(3):  # as with Upload: a click during a rerun can be lost; the time runs on
            await page.get_by_role("link", name=tr("page.features", "en")).first.click()
            try:
                await heading.wait_for(timeout=60_000 if attempt < 2 else TIMEOUT_MS)
                break
            except Exception:
                if attempt == 2:
                    raise
                out.retries += 1
        await _new_src(page, 1, None)  # the channel grid: after the forward pass
        out.first_view = time.perf_counter() - t0
        await _wait_idle(page)
        layer_box = page.locator("[data-testid='stSelectbox']").filter(has_text=tr("fm.layer", "en"))
        for i in range(3):
            await pause()
            step = f"switch {i + 1}"
            img = page.locator("[data-testid='stImage'] img").nth(1)
            before = await img.get_attribute("src")
            await layer_box.locator("input").click()
            t0 = time.perf_counter()
            await layer_box.locator("input").fill(LAYERS[(k + i) % len(LAYERS)])
            await page.keyboard.press("Enter")
            await _new_src(page, 1, before)
            out.switches.append(time.perf_counter() - t0)
            await _wait_idle(page)
        if await page.locator("[data-testid='stException']").count():
            out.errors.append("exception box")
        if await page.get_by_text("Connection error").count():
            out.lost = True
    except Exception as err:  # a bench counts what went wrong, it does not stop
        out.errors.append(step + ": " + type(err).__name__ + ": " + str(err).splitlines()[0][:120])
        try:
            await page.screenshot(path=str(ROOT / "test-artifacts" / f"class_error_{k}.png"), full_page=True)
            out.lost = bool(await page.get_by_text("Connection error").count())
        except Exception:
            out.lost = True
    finally:
        await context.close()
    return out


def split_first_runs(runs: list[dict]) -> tuple[list[dict], list[dict]]:
    """Each session's first run of the layer column (part of its first view), and all later runs."""
    seen: set[str] = set()
    firsts, later = [], []
    for r in sorted(runs, key=lambda r: r["t"]):
        (later if r["session"] in seen else firsts).append(r)
        seen.add(r["session"])
    return firsts, later


def pct(xs: list[float], q: float) -> float:
    """The q-quantile (0..1) of xs by linear interpolation; nan for an empty list."""
    if not xs:
        return float("nan")
    return float(np.quantile(np.asarray(xs), q))


def _log_since(log: Path, since: float, what: str) -> list[dict]:
    if not log.exists():
        return []
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["t"] >= since and r["what"] == what]


async def run_class(url: str, n: int, think: float, tmp: Path) -> tuple[list[Student], Counter[str]]:
    """The class, and its browsers' threads per scheduling policy just before they close."""
    from playwright.async_api import async_playwright

    from cnnviz.ui.text import tr

    files = []
    for k in range(n):
        path = tmp / f"student{k:02d}.png"
        path.write_bytes(photo(1000 + k + 100 * n))
        files.append(path)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            runs = (student(browser, url, k, files[k], think, tr) for k in range(n))
            students = await asyncio.gather(*runs)
            return list(students), browser_policies()
        finally:
            await browser.close()


def browser_policies() -> Counter[str]:
    """How many threads of the running chromium processes are under each scheduling policy."""
    names = {os.SCHED_OTHER: "other", os.SCHED_IDLE: "idle", os.SCHED_BATCH: "batch"}
    count: Counter[str] = Counter()
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or (proc / "comm").read_text().strip() != "chromium":
                continue
            for task in (proc / "task").iterdir():
                count[names.get(os.sched_getscheduler(int(task.name)), "realtime")] += 1
        except (OSError, ValueError):  # a process or thread that ended meanwhile
            continue
    return count


def measure(
    sizes: list[int],
    think: float,
    after: float,
    env: dict[str, str],
    idle: bool,
    keep: Path | None = None,
    replicas: int = 1,
    static_cache: bool = True,
    nginx: bool = False,
) -> list[tuple]:
    """Serves the app, warms it with one student, then runs one class per size in `sizes`.

    With `idle`, the browsers run under SCHED_IDLE (the server under the bench's own policy): in a room they
    run on the students' laptops, so here they get the cores only when the server leaves them free.
    With `replicas` > 1 (or `nginx`), that many servers behind nginx (`deploy/replicas.py`); memory and CPU
    are their sums (nginx's not included), and the warm-up student visits each replica once.

    Returns one row per class: (students, [Student], server timing rows, MB before, peak, after, seconds,
    the server's CPU seconds during the class, the browsers' threads per scheduling policy at its end).
    """

    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        log = tmp / "timing.jsonl"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server_env = {**env, "CNNVIZ_TIMING_LOG": str(log)}
        group = None
        if replicas > 1 or nginx:
            backends = [free_port() for _ in range(replicas)]
            group = start_replicas(port, backends, env=server_env, static_cache=static_cache)
            pids = group.pids
        else:
            server = serve(port, server_env)
            pids = [server.pid]
        if idle:  # this process and the browsers it starts from now on; the server keeps its policy
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        sampler = Sampler(pids)
        rows = []
        try:
            # Warm up: the model, the sample image and every import, by one student who then leaves (on
            # replicas, one student on each, straight to its port: each has its own models and caches).
            for warm_url in [url] if group is None else [f"http://127.0.0.1:{p}" for p in group.ports]:
                asyncio.run(run_class(warm_url, 1, 0.2, tmp))
            time.sleep(10)
            for n in sizes:
                before = rss_mb(pids)
                sampler.reset()
                since = time.time()
                t0, cpu0 = time.monotonic(), cpu_seconds(pids)
                students, policies = asyncio.run(run_class(url, n, think, tmp))
                took, cpu = time.monotonic() - t0, cpu_seconds(pids) - cpu0
                peak = max(sampler.peak, rss_mb(pids))
                time.sleep(after)
                mb_after = rss_mb(pids)
                own = _log_since(log, since, "layer")
                rows.append((n, students, own, before, peak, mb_after, took, cpu, policies))
                print(f"done: {n} students in {took:.0f} s", file=sys.stderr, flush=True)
        finally:
            if keep is not None and log.exists():
                keep.write_bytes(log.read_bytes())
            sampler.stop()
            if group is not None:
                group.stop()
            else:
                stop_processes([server])

    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", default="1,12,24", help="class sizes, comma-separated (each ≤ 32)")
    ap.add_argument("--think", type=float, default=2.0, help="mean seconds a student waits between actions")
    ap.add_argument("--after", type=float, default=60.0, help="seconds to wait after a class before 'after'")
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server's environment")
    ap.add_argument("--log", type=Path, help="also copy the server's timing lines (JSON, one per run) here")
    ap.add_argument(
        "--replicas", type=int, default=1, help="servers behind nginx, sticky sessions (deploy/replicas.py)"
    )
    ap.add_argument(
        "--nginx",
        action="store_true",
        help="with one server: put nginx in front of it too, as `make replicas REPLICAS=1` does",
    )
    ap.add_argument(
        "--no-static-cache",
        action="store_true",
        help="with --replicas: nginx caches no static file",
    )
    ap.add_argument(
        "--browsers",
        choices=["idle", "equal"],
        default="idle",
        help="idle: the bench and its browsers under SCHED_IDLE; equal: they compete with the server",
    )
    args = ap.parse_args()
    sizes = [int(s) for s in args.students.split(",") if s.strip()]
    if not sizes or min(sizes) < 1 or max(sizes) > MAX_STUDENTS:
        raise SystemExit(f"--students takes 1..{MAX_STUDENTS} per class, got {args.students!r}")
    if not Path(CHROMIUM).exists():
        raise SystemExit("Debian's chromium is not installed")
    if args.replicas < 1:
        raise SystemExit("--replicas must be at least 1")
    # As `make class` serves a room: torch's passes on one core fewer than the machine has (split between
    # replicas as deploy/replicas.py splits them).
    env = {
        "OMP_NUM_THREADS": str(threads_per_replica(args.replicas)),
        **dict(e.split("=", 1) for e in args.env),
    }
    rows = measure(
        sizes,
        args.think,
        args.after,
        env,
        args.browsers == "idle",
        args.log,
        args.replicas,
        not args.no_static_cache,
        args.nginx,
    )
    print(
        f"cnnviz class bench: {os.cpu_count()} cores, loopback, chromium headless "
        f"({'SCHED_IDLE' if args.browsers == 'idle' else 'as equals of the server'}), think {args.think} s, "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    print("memory 'before' of the first class is the warm baseline (after one student came and left)")
    if args.replicas > 1 or args.nginx:
        cached = "uncached" if args.no_static_cache else "cached"
        print(
            f"{args.replicas} replica(s) behind nginx (deploy/replicas.py), static files {cached} by nginx; "
            "memory and CPU are their sums"
        )
    if env:
        print("server environment: " + " ".join(f"{k}={v}" for k, v in env.items()))
    print()
    head = "| | " + " | ".join(f"{n} student{'s' if n > 1 else ''}" for n, *_ in rows) + " |"
    print(head)
    print("|---" * (len(rows) + 1) + "|")

    def line(label: str, cells: list[str]) -> None:
        print(f"| {label} | " + " | ".join(cells) + " |")

    def p50p95(xs: list[float]) -> str:
        return f"{pct(xs, 0.5):.2f} / {pct(xs, 0.95):.2f} s"

    line(
        "errors, lost sessions",
        [f"{sum(len(s.errors) for s in st)}, {sum(s.lost for s in st)}" for _, st, *_ in rows],
    )
    line(
        "first view, p50 / p95 (browser)",
        [p50p95([s.first_view for s in st if s.first_view]) for _, st, *_ in rows],
    )
    line(
        "layer switch, p50 / p95 (browser)",
        [p50p95([x for s in st for x in s.switches]) for _, st, *_ in rows],
    )
    firsts, switches = zip(*(split_first_runs(own) for _, _, own, *_ in rows), strict=True)
    line("layer switch, p50 / p95 (server wall)", [p50p95([r["wall"] for r in sw]) for sw in switches])
    line("layer switch, p50 / p95 (server CPU)", [p50p95([r["cpu"] for r in sw]) for sw in switches])
    line(
        "layer switch, p50 / p95 (server, waiting for the model's lock)",
        [p50p95([r.get("lock_wait", 0.0) for r in sw]) for sw in switches],
    )
    line(
        "first view's layer column, p50 / p95 (server wall)", [p50p95([r["wall"] for r in f]) for f in firsts]
    )
    line(
        "repeated clicks (lost in the browser)",
        [str(sum(s.retries for s in st)) for _, st, *_ in rows],
    )
    line("server runs of the layer column", [str(len(own)) for _, _, own, *_ in rows])
    line(
        f"memory before → peak → after ({args.after:.0f} s)",
        [f"{b:.0f} → {p:.0f} → {a:.0f} MB" for _, _, _, b, p, a, *_ in rows],
    )
    line("peak growth per student", [f"{(p - b) / n:.1f} MB" for n, _, _, b, p, *_ in rows])

    def cache_cell(own: list[dict]) -> str:
        if not own or "budget" not in own[-1]:
            return "-"
        return f"{max(r['resident'] for r in own) / 2**20:.0f} of {own[-1]['budget'] / 2**20:.0f} MB"

    line("feature cache: peak resident of budget", [cache_cell(own) for _, _, own, *_ in rows])
    line("wall time of the class", [f"{took:.0f} s" for *_, took, _, _ in rows])
    line(
        "server CPU during the class (share of one core)",
        [f"{cpu:.1f} s ({cpu / took:.0%})" for *_, took, cpu, _ in rows],
    )
    line(
        "browser threads at the end: idle / other policy",
        [f"{pol['idle']} / {sum(pol.values()) - pol['idle']}" for *_, pol in rows],
    )
    # The goal's ratio. One student's p95 of three switches is their slowest, so every 1-student class in
    # --students (e.g. 1,1,1,24) is pooled into the denominator.
    solo = [r["wall"] for (n, *_), sw in zip(rows, switches, strict=True) if n == 1 for r in sw]
    if solo:
        print()
        base = pct(solo, 0.95)
        for (n, *_), sw in zip(rows, switches, strict=True):
            if n > 1 and sw:
                high = pct([r["wall"] for r in sw], 0.95)
                print(
                    f"server wall per switch, p95: {n} students {high:.3f} s / one student {base:.3f} s "
                    f"({len(solo)} switches of the 1-student classes) = {high / base:.1f}x"
                )
    for n, st, *_ in rows:
        for k, s in enumerate(st):
            for e in s.errors:
                print(f"  {n} students, student {k}: {e}")


if __name__ == "__main__":
    main()
