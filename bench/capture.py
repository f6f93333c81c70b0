"""What recording every layer costs: cnnviz.hooks vs a plain forward and torchvision's FX extraction.

    .venv/bin/python bench/capture.py [--repeats 5] [--models resnet50,vgg16]
    THP_MEM_ALLOC_ENABLE=0 .venv/bin/python bench/capture.py   # the same without transparent huge pages

For ResNet-50 and VGG-16 (untrained, seeded) on one 224×224 image on the CPU, with torch's default thread
count, one run measures these configurations:

- plain: `model(x)` under `torch.no_grad()`;
- capture: `with capture(model)` over every module (hooks registered and removed inside the timed region),
  each output stored as a detached copy;
- summaries: `capture(model, reduce=True, store=False)`, per-channel mean/max/min computed inside the hooks;
- bare reductions: hooks that only compute sum, amax and amin per channel of each output and keep nothing,
  the floor of `summaries` with torch's reduction kernels;
- fx: `create_feature_extractor(model, return_nodes=<every node>)`, traced once outside the timed region;
- keep-alive: hooks that hold every module's output by reference and copy nothing. It measures the floor
  of storing every activation (memory that cannot be reused while the pass runs), but like FX it returns
  wrong values for outputs that a later in-place operation overwrote (`ReLU(inplace=True)`,
  `out += identity`). The bench counts those wrong outputs against capture's values;
- grad-cam, full graph / graph from layer: `capture([last conv], gradients=True)` and one backward pass,
  with `full_graph=True` (the autograd graph of the whole pass) and `full_graph=False` (the graph starts at
  the layer, as `cnnviz.analysis.cam` runs it).

The configurations run round-robin, one round per repeat; "× plain" is the median over rounds of each round's
time divided by that round's plain time (neighbours in time share the machine's load), "× plain, best" the
best time divided by the best plain time; "time" is the median. On a shared machine those wall-clock ratios
move with everybody else's load, so the same rounds are repeated on one thread and timed by the process's
CPU clock ("1 thread, CPU ms" is the median, its "× plain" the best time over the best plain time): the work
each configuration adds, much less dependent on the load.

Memory is measured in one fresh subprocess per model: for each configuration, the peak resident set size
during one forward pass (VmHWM, reset through /proc/self/clear_refs just before) minus the resident size just
before it, with glibc told to give every freed block of 128 KiB or more back to the system at once. It counts
every page torch's CPU allocator touched during the pass (stored results plus the transient working set), not
just live tensors.

Stored bytes check the one-copy promise: the bytes of distinct storages that `capture()` keeps, against the
bytes of the distinct tensors the modules produced (a tensor returned by several modules, e.g. a block and its
last ReLU, counts once; one modified in place counts once per version, because each version is a different
activation). With copy on write most of them are the modules' own tensors, not copies. The first-touch line
separates what copying the activations costs from what the operating system charges for handing out that much
new memory (page faults), which only memory that is already faulted in (huge pages, the snapshot pool) avoids.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
import weakref
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnnviz.hooks import _POOL, capture  # sets THP_MEM_ALLOC_ENABLE unless the environment did

CONFIGS = (
    "plain",
    "capture",
    "summaries",
    "bare reductions",
    "fx",
    "keep-alive",
    "grad-cam, full graph",
    "grad-cam, graph from layer",
)
GOALS = {"summaries": 1.08, "capture": 1.15}  # issue 16


def build(name: str) -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.get_model(name, weights=None).eval()


def runner(model: nn.Module, config: str) -> Callable[[torch.Tensor], object]:
    """A function doing one forward pass the way `config` says."""
    if config == "plain":
        return model
    if config == "capture":

        def run_capture(x: torch.Tensor) -> object:
            with capture(model) as cap:
                model(x)
            return cap

        return run_capture
    if config == "summaries":

        def run_summaries(x: torch.Tensor) -> object:
            with capture(model, reduce=True, store=False) as cap:
                model(x)
            return cap

        return run_summaries
    if config == "bare reductions":
        return partial(_bare_reductions, model)
    if config == "fx":
        nodes = get_graph_node_names(model)[1]
        return create_feature_extractor(model, return_nodes=nodes)
    if config == "keep-alive":
        return partial(_keep_alive, model)
    if config.startswith("grad-cam"):
        return partial(_grad_cam, model, last_conv(model), config.endswith("full graph"))
    raise ValueError(f"unknown config {config!r}")


def _keep_alive(model: nn.Module, x: torch.Tensor) -> list[tuple[str, object]]:
    """Every module's output held by reference, nothing copied: what keeping every activation alive costs
    (the memory is not reused while the pass runs). An output a later in-place operation changed then holds
    the changed values, as with FX: the floor of storing, not a correct capture."""
    kept: list[tuple[str, object]] = []
    handles = [
        m.register_forward_hook(partial(lambda name, m, a, out: kept.append((name, out)), n))
        for n, m in model.named_modules()
        if n
    ]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return kept


def _bare_reductions(model: nn.Module, x: torch.Tensor) -> None:
    """Hooks that only make the three per-channel reductions of a summary (sum, amax, amin) and keep
    nothing: the floor of in-hook summaries with torch's own reduction kernels, below which no bookkeeping
    can bring `summaries`. Like `summaries`, a tensor that several modules return unchanged (a block and its
    last ReLU) is reduced once."""
    seen: dict[int, tuple[weakref.ref[torch.Tensor], int]] = {}

    def reduce(_m: nn.Module, _a: object, out: object) -> None:
        if isinstance(out, torch.Tensor) and out.is_floating_point() and out.dim() >= 2:
            known = seen.get(id(out))
            if known is not None and known[0]() is out and known[1] == out._version:
                return
            seen[id(out)] = (weakref.ref(out), out._version)
            dims = (0, *range(2, out.dim()))
            out.sum(dim=dims), out.amax(dim=dims), out.amin(dim=dims)

    handles = [m.register_forward_hook(reduce) for n, m in model.named_modules() if n]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()


def last_conv(model: nn.Module) -> str:
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)][-1]


def _grad_cam(model: nn.Module, layer: str, full_graph: bool, x: torch.Tensor) -> object:
    """What Grad-CAM's pass costs: the last conv layer's output and its gradient for the top class."""
    with capture(model, [layer], gradients=True, full_graph=full_graph) as cap:
        logits = model(x)
        cap.backward(logits[0, int(logits[0].argmax())])
    return cap


def wrong_outputs(model: nn.Module, x: torch.Tensor) -> dict[str, tuple[int, int]]:
    """Per configuration that stores every output: (outputs that differ from capture's, outputs compared).

    capture() is the reference here (tests/test_capture*.py check it against FX on models without in-place
    operations, and against outputs recomputed out of place); a module called once is compared by name."""
    with torch.no_grad():
        with capture(model) as cap:
            model(x)
        fx_out = runner(model, "fx")(x)
        kept = _keep_alive(model, x)
    names = [n for n, m in model.named_modules() if n and len(cap.calls.get(n, ())) == 1]
    alive = dict(kept)
    result = {}
    for config, outputs in (("fx", fx_out), ("keep-alive", alive)):
        compared = [n for n in names if isinstance(outputs.get(n), torch.Tensor)]
        differ = [n for n in compared if not torch.equal(outputs[n], cap.activations[n])]
        result[config] = (len(differ), len(compared))
    return result


def time_configs(
    model: nn.Module, x: torch.Tensor, repeats: int, clock: Callable[[], float] = time.perf_counter
) -> dict[str, list[float]]:
    runs = {config: runner(model, config) for config in CONFIGS}
    times: dict[str, list[float]] = {config: [] for config in CONFIGS}
    with torch.no_grad():
        for run in runs.values():  # warm-up: oneDNN primitives, allocator pools
            run(x)
        for _ in range(repeats):
            for config, run in runs.items():
                start = clock()
                run(x)
                times[config].append(clock() - start)
    return times


def single_thread_cpu_times(model: nn.Module, x: torch.Tensor, repeats: int) -> dict[str, list[float]]:
    """The same rounds on one thread, timed by the process's CPU clock: what the work costs, whatever else the
    machine is running (a descheduled process accrues no CPU time, and one thread never waits for another)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return time_configs(model, x, repeats, time.process_time)
    finally:
        torch.set_num_threads(threads)


def stored_bytes(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Bytes capture() stores vs bytes the modules produced, and the cost of copying them into new memory."""
    produced: dict[tuple[int, int], int] = {}
    keep: list[torch.Tensor] = []  # alive until counted, so that ids are not reused
    total = 0

    def count(module: nn.Module, args: object, output: object) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor):
            keep.append(output)
            size = output.numel() * output.element_size()
            produced[(id(output), output._version)] = size
            total += size

    handles = [m.register_forward_hook(count) for name, m in model.named_modules() if name]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    keep.clear()
    with torch.no_grad(), capture(model) as cap:
        model(x)
    storages: dict[int, torch.Tensor] = {}
    for calls in cap.calls.values():
        for t in calls:
            storages.setdefault(t.untyped_storage().data_ptr(), t)
    stored = sum(t.untyped_storage().nbytes() for t in storages.values())
    tensors = list(storages.values())
    fresh, reused = [], []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread, so that CPU time is not inflated by another thread's waiting
    try:
        for _ in range(5):  # CPU time of this process, best of 5: page faults are system time, counted too
            start = time.process_time()
            copies = [t.clone() for t in tensors]  # all alive at once: new pages, like capture()
            fresh.append(time.process_time() - start)
            del copies
            start = time.process_time()
            for t in tensors:
                t.clone()  # freed at once: the allocator hands the same warm pages back
            reused.append(time.process_time() - start)
    finally:
        torch.set_num_threads(threads)
    return {
        "stored": stored,
        "distinct": sum(produced.values()),
        "total": total,
        "fresh": min(fresh),
        "reused": min(reused),
    }


def fused_reductions(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """One thread, best of 5, over every (1, C, H, W) module output: the three reductions summaries make (sum,
    amax, amin over all but the channel) against `torch.aminmax` (min and max in one pass) plus a sum."""
    with torch.no_grad(), capture(model) as cap:
        model(x)
    outputs = [t for t in cap.activations.values() if t.dim() == 4]
    views = [o[0].reshape(o.shape[1], -1) for o in outputs]

    def three() -> None:
        for o in outputs:
            o.sum(dim=(0, 2, 3)), o.amax(dim=(0, 2, 3)), o.amin(dim=(0, 2, 3))

    def fused() -> None:
        for v in views:
            v.sum(dim=1), torch.aminmax(v, dim=1)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = {}
        for name, fn in (("three", three), ("aminmax", fused)):
            fn()
            best = math.inf
            for _ in range(5):
                t0 = time.thread_time()
                fn()
                best = min(best, time.thread_time() - t0)
            out[name] = best
        return out
    finally:
        torch.set_num_threads(threads)


def _proc_status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        found = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"/proc/self/status has no {field} line")
    return int(found.group(1))


def peak_memory_child(name: str) -> None:
    """In a fresh subprocess: prints each configuration's peak RSS growth over one forward pass, as JSON."""
    model = build(name)
    runs = {config: runner(model, config) for config in CONFIGS}
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    growth = {}
    with torch.no_grad():
        model(x)  # one-time allocations (oneDNN primitives, thread pools) are nobody's cost
        for config, run in runs.items():
            gc.collect()
            before = _proc_status_kb("VmRSS")
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM, the peak resident set size, to the current size
            result = run(x)
            growth[config] = (_proc_status_kb("VmHWM") - before) * 1024
            del result
    print(json.dumps(growth))


def peak_memory(name: str) -> dict[str, int]:
    # A fixed mmap threshold makes glibc return every freed block of 128 KiB or more to the system at once,
    # so the resident size follows the live tensors, not what an earlier configuration left in the heap.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    out = subprocess.run(
        [sys.executable, __file__, "--child", name], check=True, capture_output=True, text=True, env=env
    )
    return {k: int(v) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def huge_pages_kb() -> int:
    """Anonymous memory of this process that sits in transparent huge pages (kB)."""
    with open("/proc/self/smaps") as f:
        return sum(int(kb) for kb in re.findall(r"^AnonHugePages:\s+(\d+) kB", f.read(), re.MULTILINE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", default="resnet50,vgg16")
    parser.add_argument("--child", metavar="MODEL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        peak_memory_child(args.child)
        return

    started = time.perf_counter()
    print(
        f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
        f"{torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; batch 1, 224×224, "
        f"median of {args.repeats}\n"
    )
    lines = [
        "| model | configuration | time (ms) | × plain | × plain, best | 1 thread, CPU ms | × plain "
        "| peak RAM growth (MB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    checks = []
    for name in args.models.split(","):
        model = build(name)
        x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
        times = time_configs(model, x, args.repeats)
        cpu = single_thread_cpu_times(model, x, args.repeats)
        memory = peak_memory(name)
        ratio, best, cpu_ratio = {}, {}, {}
        for config in CONFIGS:
            # Each round's configurations ran back to back, under the same load: compare within a round.
            ratio[config] = statistics.median(
                t / p for t, p in zip(times[config], times["plain"], strict=True)
            )
            best[config] = min(times[config]) / min(times["plain"])
            cpu_ratio[config] = min(cpu[config]) / min(cpu["plain"])
            lines.append(
                f"| {name} | {config} | {statistics.median(times[config]) * 1e3:.0f} "
                f"| {ratio[config]:.2f} | {best[config]:.2f} | {statistics.median(cpu[config]) * 1e3:.0f} "
                f"| {cpu_ratio[config]:.2f} | {memory[config] / 2**20:.0f} |"
            )
        for config, goal in GOALS.items():
            verdict = "met" if ratio[config] <= goal else "missed"
            cpu_verdict = "met" if cpu_ratio[config] <= goal else "missed"
            checks.append(
                f"- {name} {config}: {ratio[config]:.2f}× plain "
                f"(best of {args.repeats}: {best[config]:.2f}×), goal ≤ {goal:.2f}×: {verdict}; "
                f"one thread, CPU time: {cpu_ratio[config]:.2f}×, {cpu_verdict}"
            )
        checks.append(
            f"- {name} summaries floor: hooks that only reduce (sum, amax, amin) cost "
            f"{cpu_ratio['bare reductions']:.2f}× plain (one thread, CPU time), summaries "
            f"{cpu_ratio['summaries']:.2f}×: cnnviz's bookkeeping adds "
            f"{cpu_ratio['summaries'] - cpu_ratio['bare reductions']:+.2f}×"
        )
        wrong = wrong_outputs(model, x)
        for config, (differ, compared) in wrong.items():
            checks.append(
                f"- {name} {config}: {differ} of {compared} module outputs hold values a later in-place "
                "operation wrote, not what the module returned (capture keeps what it returned)"
            )
        late, full = "grad-cam, graph from layer", "grad-cam, full graph"
        checks.append(
            f"- {name} grad-cam at {last_conv(model)}: the graph from the layer on costs "
            f"{cpu_ratio[late]:.2f}× plain against {cpu_ratio[full]:.2f}× for the whole graph (one thread, "
            f"CPU), and {memory[late] / 2**20:.0f} MB of peak RAM growth against "
            f"{memory[full] / 2**20:.0f} MB"
        )
        sizes = stored_bytes(model, x)
        checks.append(
            f"- {name} stored: capture keeps {sizes['stored'] / 2**20:.1f} MB "
            f"for {sizes['distinct'] / 2**20:.1f} MB "
            f"of distinct module outputs ({sizes['total'] / 2**20:.1f} MB counting every module's output "
            f"separately): {sizes['stored'] / sizes['distinct']:.2f} copies of each activation"
        )
        checks.append(
            f"- {name} first touch: copying those {sizes['stored'] / 2**20:.0f} MB takes "
            f"{sizes['reused'] * 1e3:.0f} ms into reused memory and "
            f"{sizes['fresh'] * 1e3:.0f} ms into new memory (one thread, CPU time, best of 5); "
            f"the difference is page faults, "
            f"{max(0.0, sizes['fresh'] - sizes['reused']) / min(cpu['plain']) * 100:.0f}% "
            "of a one-thread plain forward's CPU time"
        )
        fused = fused_reductions(model, x)
        checks.append(
            f"- {name} one fused pass for min and max: torch.aminmax plus a sum take "
            f"{fused['aminmax'] * 1e3:.1f} ms over every module output, against "
            f"{fused['three'] * 1e3:.1f} ms for sum, amax and amin (one thread, CPU time, best of 5)"
        )
    print("\n".join(lines))
    print()
    print("\n".join(checks))
    print(
        f"- huge pages: THP_MEM_ALLOC_ENABLE={os.environ.get('THP_MEM_ALLOC_ENABLE')!r}, "
        f"{huge_pages_kb() / 1024:.0f} MB of this process in transparent huge pages now; "
        f"snapshot pool: budget {_POOL.budget / 2**20:.0f} MB, holding {_POOL.held / 2**20:.1f} MB"
    )
    print(f"\n(bench took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
