"""How fast the app answers, measured with Streamlit's AppTest, printed as ratios from one run.

- rerun after switching the layer on "Feature maps", as a ratio to one plain forward pass of the same model
  (goal ≤ 0.3: nothing is recomputed, the maps come from the cache);
- the first render of "Feature maps" in a fresh process, as a ratio to the time of `import torch` there.

Run: .venv/bin/python bench/app.py
"""

from __future__ import annotations

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
at = AppTest.from_file("{ROOT / "app.py"}", default_timeout=600)
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
    from forward import default_model_forward
    from streamlit.testing.v1 import AppTest

    name, weights, input_shape, plain = default_model_forward()

    # An absolute path: AppTest resolves a relative one against the calling file, which is this script.
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.run()
    at.switch_page(PAGE).run()
    layers = at.selectbox(key="layer").options
    # Every module call anywhere in the process is counted: a rerun that recomputes anything shows up here.
    calls = [0]

    def count(*_: object) -> None:
        calls[0] += 1

    counter = torch.nn.modules.module.register_module_forward_hook(count)
    reruns = []
    for layer in layers[1:21]:
        t0 = time.perf_counter()
        at.selectbox(key="layer").select(layer).run()
        reruns.append(time.perf_counter() - t0)
        assert not at.exception, [e.value for e in at.exception]
    counter.remove()
    rerun = statistics.median(reruns)

    # AppTest compiles the home and page scripts anew on every run; a running server keeps their bytecode.
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    compiles = []
    for _ in range(5):
        t0 = time.perf_counter()
        ScriptCache().get_bytecode(str(ROOT / "app.py"))
        ScriptCache().get_bytecode(str(ROOT / PAGE))
        compiles.append(time.perf_counter() - t0)
    compile_time = statistics.median(compiles)

    torch_import = statistics.median(_python(_IMPORT_TORCH) for _ in range(3))
    first = _python(_FIRST_RENDER)

    print(
        f"model: {name} ({weights}), input {input_shape}, torch {torch.__version__}, "
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
    print(
        f"| of which AppTest's compiling of the two scripts (a server caches it) | {compile_time:.4f} "
        f"| {compile_time / plain:.2f} × forward | |"
    )
    print(f"| module calls during those {len(reruns)} reruns | {calls[0]} | | 0 |")
    print(f"| `import torch` (fresh process, median of 3) | {torch_import:.3f} | 1.00 | |")
    first_ratio = first / torch_import
    print(
        f"| first render of Feature maps (fresh process) | {first:.3f} | {first_ratio:.2f} × import torch | |"
    )


if __name__ == "__main__":
    main()
