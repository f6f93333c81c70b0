"""How fast the app answers, measured with Streamlit's AppTest, printed as ratios from one run.

- rerun after switching the layer on "Feature maps", as a ratio to one plain forward pass of the same model
  (goal ≤ 0.3: nothing is recomputed, the maps come from the cache);
- the first render of "Feature maps" in a fresh process, as a ratio to the time of `import torch` there.

Run: .venv/bin/python bench/app.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/4_Feature_maps.py"

_FIRST_RENDER = f"""
import time
t0 = time.perf_counter()
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=600)
at.run()
at.switch_page("{PAGE}").run()
assert not at.exception, [e.value for e in at.exception]
print(time.perf_counter() - t0)
"""

_IMPORT_TORCH = "import time; t0 = time.perf_counter(); import torch; print(time.perf_counter() - t0)"


def _python(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    sys.path.insert(0, str(ROOT))
    import torch
    from streamlit.testing.v1 import AppTest

    from cnnviz import models
    from cnnviz.images import load_sample
    from cnnviz.ui.sidebar import PREFERRED_MODELS

    name = next(n for n in PREFERRED_MODELS if models.weights_present(n))
    loaded = models.load(name)
    x = loaded.preprocess(load_sample("chelsea"))
    with torch.no_grad():
        loaded.model(x)
        forward = []
        for _ in range(10):
            t0 = time.perf_counter()
            loaded.model(x)
            forward.append(time.perf_counter() - t0)
    plain = statistics.median(forward)

    os.chdir(ROOT)
    at = AppTest.from_file("app.py", default_timeout=600)
    at.run()
    at.switch_page(PAGE).run()
    layers = at.selectbox(key="layer").options
    reruns = []
    for layer in layers[1:6]:
        t0 = time.perf_counter()
        at.selectbox(key="layer").select(layer).run()
        reruns.append(time.perf_counter() - t0)
        assert not at.exception, [e.value for e in at.exception]
    rerun = statistics.median(reruns)

    torch_import = statistics.median(_python(_IMPORT_TORCH) for _ in range(3))
    first = _python(_FIRST_RENDER)

    print(
        f"model: {name} ({loaded.weights}), input {tuple(x.shape)}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    print()
    print("| measurement | seconds | ratio | goal |")
    print("|---|---|---|---|")
    print(f"| plain forward pass (median of 10) | {plain:.4f} | 1.00 | |")
    ratio = rerun / plain
    print(
        f"| rerun after switching layer (median of {len(reruns)}) | {rerun:.4f} | {ratio:.2f} × forward "
        "| ≤ 0.3 |"
    )
    print(f"| `import torch` (fresh process, median of 3) | {torch_import:.3f} | 1.00 | |")
    first_ratio = first / torch_import
    print(
        f"| first render of Feature maps (fresh process) | {first:.3f} | {first_ratio:.2f} × import torch | |"
    )


if __name__ == "__main__":
    main()
