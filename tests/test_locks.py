"""`cnnviz.locks.ModelLock`: re-entrant like `threading.RLock`, short passes first among waiters, waiting
time counted; and the Feature maps page's one-layer passes are the ones declared short, run on the model's
twin so that they don't wait for a whole pass on the model."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from cnnviz import locks, models
from cnnviz.locks import ModelLock, short_passes
from cnnviz.ui import cache, trace_view


def _until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.005)


def _waiters(lock: ModelLock) -> int:
    return len(lock._cond._waiters)  # type: ignore[attr-defined]


def _holding(lock: ModelLock) -> tuple[threading.Thread, threading.Event]:
    """A thread that takes `lock` and holds it until the returned event is set."""
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            held.set()
            done.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    return thread, done


def test_a_waiting_short_pass_goes_before_one_that_waited_longer() -> None:
    lock = ModelLock()
    order: list[str] = []
    holder, done = _holding(lock)

    def take(name: str, short: bool) -> None:
        if short:
            with short_passes(), lock:
                order.append(name)
        else:
            with lock:
                order.append(name)

    threads = []
    for k in range(3):  # three whole-network passes wait first
        threads.append(threading.Thread(target=take, args=(f"long{k}", False)))
        threads[-1].start()
        _until(lambda n=k + 1: _waiters(lock) == n)
    threads.append(threading.Thread(target=take, args=("short", True)))
    threads[-1].start()
    _until(lambda: lock._short_waiting == 1)
    done.set()
    for th in [holder, *threads]:
        th.join(10)
    assert order[0] == "short"
    assert sorted(order[1:]) == ["long0", "long1", "long2"]


def test_short_passes_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locks, "SHORT_FIRST", False)
    with short_passes():
        assert not locks._SHORT.get()
    monkeypatch.setattr(locks, "SHORT_FIRST", True)
    with short_passes():
        assert locks._SHORT.get()
    assert not locks._SHORT.get()


def test_it_is_reentrant_and_owned() -> None:
    lock = ModelLock()
    with lock, lock:
        assert lock.locked()
        got: list[bool] = []
        other = threading.Thread(target=lambda: got.append(lock.acquire(blocking=False)))
        other.start()
        other.join()
        assert got == [False]
        other = threading.Thread(target=lambda: got.append(lock.acquire(timeout=0.05)))
        other.start()
        other.join()
        assert got == [False, False]
    assert not lock.locked()
    with pytest.raises(RuntimeError, match="another thread"):
        lock.release()
    holder, done = _holding(lock)
    with pytest.raises(RuntimeError, match="another thread"):
        lock.release()
    done.set()
    holder.join()
    assert lock.acquire(blocking=False)
    lock.release()


def test_waiting_is_counted_per_thread() -> None:
    lock = ModelLock()
    before = locks.waited()
    with lock:  # free: no wait
        pass
    assert locks.waited() == before
    holder, done = _holding(lock)
    waited: list[float] = []

    def wait_for_it() -> None:
        start = locks.waited()
        with lock:
            waited.append(locks.waited() - start)

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    _until(lambda: _waiters(lock) == 1)
    time.sleep(0.2)
    done.set()
    holder.join()
    waiter.join()
    assert waited[0] >= 0.19
    assert locks.waited() == before  # another thread's wait is not this one's


def test_the_page_declares_its_one_layer_passes_short(monkeypatch: pytest.MonkeyPatch) -> None:
    """The layer map and the traced cell take the model's lock as short passes; the layer index (one whole
    pass for every layer's summary) does not, so a switch goes ahead of other students' first views."""
    seen: list[bool] = []
    real = ModelLock.acquire

    def spy(self: ModelLock, blocking: bool = True, timeout: float = -1) -> bool:
        if self._owner != threading.get_ident():
            seen.append(locks._SHORT.get())
        return real(self, blocking, timeout)

    monkeypatch.setattr(locks, "SHORT_FIRST", True)
    monkeypatch.setattr(ModelLock, "acquire", spy)
    loaded = models.load("lenet5")
    rng = np.random.default_rng(11)
    image = Image.fromarray((rng.random((40, 40)) * 255).astype(np.uint8), "L")
    cache.feature_index(loaded, image)
    assert seen and not any(seen)
    seen.clear()
    cache.layer_map(loaded, image, "conv2")
    assert seen and all(seen)
    seen.clear()
    trace_view.cell_trace(loaded, image, "conv2", 0, 1, 1)
    assert seen and all(seen)


def test_a_layer_switch_does_not_wait_for_a_whole_pass_on_the_model() -> None:
    """While another session's whole-network pass holds the model's lock (a first view), the layer map and
    the traced cell of a new layer still run: on the model's twin (`cnnviz.hooks.twin`), with its own lock."""
    loaded = models.load("lenet5")
    rng = np.random.default_rng(12)
    image = Image.fromarray((rng.random((40, 40)) * 255).astype(np.uint8), "L")
    index = cache.feature_index(loaded, image)
    cache.layer_map(loaded, image, "conv1")  # the twin is made here, while the model is free
    holder, done = _holding(loaded.lock)
    got: list[object] = []
    try:

        def switch() -> None:
            got.append(cache.layer_map(loaded, image, "conv2"))
            got.append(trace_view.cell_trace(loaded, image, "conv2", 1, 2, 3, calls=index.calls["conv2"]))

        worker = threading.Thread(target=switch)
        worker.start()
        worker.join(timeout=5)  # the holder lets go after 10 s on its own
        assert len(got) == 2, "the layer switch waited for the model's lock"
    finally:
        done.set()
        holder.join()
    fmap, tr = got
    assert fmap.shape == (16, 10, 10)  # type: ignore[attr-defined]
    assert tr.value == pytest.approx(float(fmap[1, 2, 3]), abs=1e-5)  # type: ignore[attr-defined,index]
