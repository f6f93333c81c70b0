"""Memory and speed of the image-set analyses (cnnviz.analysis.dataset) on MobileNetV2.

    .venv/bin/python bench/dataset.py [--images 100,1000] [--batch 32] [--size 224] [--threads 1]
                                      [--analyses plain,top_images,health,mistakes]

MobileNetV2 (torchvision, untrained, seeded) on the CPU. The set is generated lazily, batch by batch
(seeded random tensors with paths and labels), so only one batch exists at a time, as with a folder read by
`cnnviz.imagesets`. Each (analysis, image count) runs in a fresh subprocess, which builds the model, warms it
up on one batch, then measures the analysis over the whole set:

- images/s: images over wall-clock seconds (with `--threads` torch threads; 1 by default, for a shared box);
- Python peak: `tracemalloc`'s peak of Python-level allocations during the run (numpy arrays included;
  torch's tensor storage is not traced);
- RSS peak: the peak resident set size during the run (VmHWM, reset through /proc/self/clear_refs after the
  warm-up) minus the resident size just before it: every page the process touched, tensors included.

"plain" is `model(x)` under `torch.no_grad()` over the same batches, the baseline for "× plain". The
analyses: `top_images` on `features.14` (k = 9), `layer_health` on every module with gradient norms (the set
is labelled, so each batch also runs backward), `mistakes` (1000 classes). The last lines print, per
analysis, the ratio of the largest to the smallest set's memory: flat (≈ 1) is the promise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnnviz.analysis.dataset import layer_health, mistakes, top_images

ANALYSES = ("plain", "top_images", "health", "mistakes")


def batches(images: int, batch: int, size: int) -> Iterator[tuple[list[str], torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    for start in range(0, images, batch):
        n = min(batch, images - start)
        paths = [f"set/img_{start + i:06d}.png" for i in range(n)]
        yield paths, torch.randn(n, 3, size, size, generator=g), torch.randint(0, 1000, (n,), generator=g)


def rss_kib(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


def child(analysis: str, images: int, batch: int, size: int) -> dict[str, float]:
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2(weights=None).eval()
    run = {
        "plain": lambda data: [model(x) for _, x, _ in data],
        "top_images": lambda data: top_images(model, data, "features.14", k=9),
        "health": lambda data: layer_health(model, data),
        "mistakes": lambda data: mistakes(model, data),
    }[analysis]
    with torch.no_grad():
        run(batches(batch, batch, size))  # warm-up: allocator pools, first-call costs
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = rss_kib("VmRSS")
    tracemalloc.start()
    start = time.perf_counter()
    with torch.no_grad() if analysis == "plain" else torch.enable_grad():
        run(batches(images, batch, size))
    seconds = time.perf_counter() - start
    _, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "seconds": seconds,
        "images_per_s": images / seconds,
        "python_peak_mib": python_peak / 2**20,
        "rss_peak_mib": (rss_kib("VmHWM") - before) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", default="100,1000")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--analyses", default=",".join(ANALYSES))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        analysis, images = args.child.split(":")
        print(json.dumps(child(analysis, int(images), args.batch, args.size)))
        return
    counts = [int(v) for v in args.images.split(",")]
    analyses = [a for a in args.analyses.split(",") if a]
    unknown = set(analyses) - set(ANALYSES)
    if unknown:
        parser.error(f"unknown analyses {sorted(unknown)}; choose from {', '.join(ANALYSES)}")
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "131072", "OMP_NUM_THREADS": str(args.threads)}
    results: dict[tuple[str, int], dict[str, float]] = {}
    print(
        f"MobileNetV2 (untrained), {args.size}×{args.size}, batch {args.batch}, CPU, {args.threads} thread(s)"
    )
    header = ("analysis".ljust(11), "images".rjust(6), "images/s".rjust(9), "× plain".rjust(8))
    print(*header, "Python peak MiB".rjust(16), "RSS peak MiB".rjust(13))
    for analysis in analyses:
        for images in counts:
            command = [
                sys.executable,
                __file__,
                "--child",
                f"{analysis}:{images}",
                "--batch",
                str(args.batch),
            ]
            command += ["--size", str(args.size), "--threads", str(args.threads)]
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
            r = results[analysis, images] = json.loads(out.strip().splitlines()[-1])
            plain = results.get(("plain", images))
            ratio = f"{plain['images_per_s'] / r['images_per_s']:.2f}" if plain else "-"
            print(
                f"{analysis:<11} {images:>6} {r['images_per_s']:>9.1f} {ratio:>8} "
                f"{r['python_peak_mib']:>16.2f} {r['rss_peak_mib']:>13.1f}",
                flush=True,
            )
    low, high = min(counts), max(counts)
    if low != high:
        print(f"memory at {high} images / at {low} images (flat ≈ 1):")
        for analysis in analyses:
            a, b = results[analysis, low], results[analysis, high]
            python = b["python_peak_mib"] / max(a["python_peak_mib"], 1e-9)
            rss = b["rss_peak_mib"] / max(a["rss_peak_mib"], 1e-9)
            print(f"  {analysis:<11} Python peak ×{python:.2f}, RSS peak ×{rss:.2f}")


if __name__ == "__main__":
    main()
