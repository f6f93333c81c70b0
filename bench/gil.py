"""Why the server shortens Python's GIL switch interval: a forward pass among busy Python threads.

    .venv/bin/python bench/gil.py [--threads 8] [--model mobilenet_v2]

A Streamlit server runs every session's script in its own thread. PyTorch releases the GIL inside each
operator and must win it back after it, so a forward pass of a few hundred small operators waits up to one
switch interval per operator whenever other threads run Python (a "convoy"). This times one forward pass
(one torch thread, untrained weights, 224×224) alone and beside `--threads` threads that run plain Python,
for Python's default interval (5 ms) and shorter ones, and how much plain Python the threads got done
meanwhile (less once the forward pass wins the GIL back sooner).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import threading
import time
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

logging.disable(logging.WARNING)  # streamlit's caches, imported outside a server, warn about it
from cnnviz.ui.cache import SWITCH_INTERVAL  # noqa: E402 - the value the app sets

logging.disable(logging.NOTSET)

INTERVALS = (0.005, 0.001, SWITCH_INTERVAL, 0.0002)


def python_work(stop: threading.Event, counts: list[int], k: int) -> None:
    while not stop.is_set():
        sum(i * i for i in range(1000))
        counts[k] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--model", default="mobilenet_v2")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torchvision.models.get_model(args.model, weights=None).eval()
    x = torch.randn(1, 3, 224, 224)

    def forward() -> float:
        with torch.no_grad():
            start = time.perf_counter()
            model(x)
            return time.perf_counter() - start

    print(
        f"{args.model}, one torch thread, {args.threads} Python threads beside it, median of {args.repeats}\n"
    )
    print(
        "| switch interval | forward alone (ms) | among the threads (ms) | × alone | Python threads' work |"
    )
    print("|---|---:|---:|---:|---:|")
    default_work = None
    for interval in INTERVALS:
        sys.setswitchinterval(interval)
        alone = statistics.median(forward() for _ in range(args.repeats))
        stop, counts = threading.Event(), [0] * args.threads
        threads = [threading.Thread(target=python_work, args=(stop, counts, k)) for k in range(args.threads)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        began, before = time.perf_counter(), sum(counts)
        busy = statistics.median(forward() for _ in range(args.repeats))
        rate = (sum(counts) - before) / (time.perf_counter() - began)
        stop.set()
        for t in threads:
            t.join()
        default_work = default_work or rate
        mark = (
            " (the app's)"
            if interval == SWITCH_INTERVAL
            else " (Python's default)"
            if interval == 0.005
            else ""
        )
        print(
            f"| {interval * 1e3:.1f} ms{mark} | {alone * 1e3:.0f} | {busy * 1e3:.0f} | {busy / alone:.0f} "
            f"| {rate / default_work:.2f} × at 5 ms |"
        )
    sys.setswitchinterval(0.005)


if __name__ == "__main__":
    main()
