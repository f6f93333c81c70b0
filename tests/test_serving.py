"""`make class`, the command that serves a room: torch's passes get one core fewer than the machine has
(the sessions' Python runs on one core at a time); `make run` keeps torch's default; `make replicas` puts
several servers behind nginx, each browser kept on one of them (README "Serving a class")."""

from __future__ import annotations

import http.server
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy"))
import replicas  # noqa: E402 - deploy/ is a folder of scripts, not a package

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _dry_run(*args: str) -> str:
    return subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


@needs_make
@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 1), (3, 2), (16, 15)])
def test_a_class_server_leaves_one_core_to_python(cores: int, threads: int) -> None:
    out = _dry_run("class", f"CORES={cores}")
    assert f"OMP_NUM_THREADS={threads} " in out
    assert "streamlit run app.py" in out and "--server.address 0.0.0.0" in out


@needs_make
def test_the_lecturers_own_server_keeps_every_core() -> None:
    out = _dry_run("run")
    assert "streamlit run app.py" in out and "OMP_NUM_THREADS" not in out


# --- several replicas behind nginx (deploy/replicas.py) ---------------------------------------------------

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="needs nginx (Debian: nginx-light)")


@needs_make
def test_make_replicas_starts_the_proxy_script_on_the_class_address() -> None:
    out = _dry_run("replicas", "REPLICAS=3")
    assert "deploy/replicas.py --replicas 3 --port 8501 --address 0.0.0.0" in out


@pytest.mark.parametrize(("n", "cores", "threads"), [(1, 2, 1), (2, 2, 1), (2, 16, 7), (4, 16, 3), (8, 4, 1)])
def test_replicas_split_the_cores_one_server_would_use(n: int, cores: int, threads: int) -> None:
    assert replicas.threads_per_replica(n, cores) == threads


def test_the_proxy_keeps_a_browser_on_one_replica_and_passes_websockets_on(tmp_path: Path) -> None:
    conf = replicas.nginx_config("0.0.0.0", 8501, [8601, 8602, 8603], tmp_path)
    assert "listen 0.0.0.0:8501;" in conf
    assert all(f"server 127.0.0.1:{p};" in conf for p in (8601, 8602, 8603))
    assert "hash $cnnviz_affinity consistent;" in conf  # a cookie, not ip_hash: one NAT address per room
    assert f"$cookie_{replicas.COOKIE}" in conf and f'"{replicas.COOKIE}=$request_id; Path=/' in conf
    assert "proxy_set_header Host $http_host;" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    upload = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    assert f"client_max_body_size {upload}m;" in conf  # a checkpoint the app takes also passes the proxy
    assert "location /static/" in conf and "proxy_cache cnnviz_static;" in conf
    plain = replicas.nginx_config("0.0.0.0", 8501, [8601], tmp_path, static_cache=False)
    assert "location /static/" not in plain and "location / {" in plain
    with pytest.raises(ValueError):
        replicas.nginx_config("0.0.0.0", 8501, [], tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Named(http.server.BaseHTTPRequestHandler):
    """A stand-in replica: answers with its port and the Host header it was sent; files under /static/ come
    with the cache header Streamlit 1.67 sends for its hashed JavaScript (checked by hand: "public, immutable,
    max-age=31536000")."""

    static_requests = 0

    def do_GET(self) -> None:
        body = f"{self.server.server_address[1]} {self.headers.get('Host')}".encode()
        self.send_response(200)
        if self.path.startswith("/static/"):
            type(self).static_requests += 1
            self.send_header("Cache-Control", "public, immutable, max-age=31536000")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # an upload: answers with the number of bytes that arrived
        body = str(len(self.rfile.read(int(self.headers["Content-Length"])))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@needs_nginx
def test_nginx_sends_each_browser_to_one_replica_and_new_browsers_to_all() -> None:
    """Real nginx with `nginx_config` in the folder `start()` gives it, in front of two stand-in backends."""
    workdir = replicas.nginx_workdir()
    tmp_path = Path(workdir.name)
    backends = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Named) for _ in range(2)]
    for b in backends:
        threading.Thread(target=b.serve_forever, daemon=True).start()
    ports = [b.server_address[1] for b in backends]
    port = _free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(replicas.nginx_config("127.0.0.1", port, ports, tmp_path))
    nginx = [NGINX, "-c", str(conf), "-p", str(tmp_path)]
    check = subprocess.run([*nginx, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proxy = subprocess.Popen(nginx, stderr=subprocess.DEVNULL)
    try:

        def get(cookie: str | None = None, agent: str = "test") -> tuple[int, str, str | None]:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"User-Agent": agent})
            req.add_header("Host", f"lab.example:{port}")  # a hostname, as students type it
            if cookie:
                req.add_header("Cookie", f"{replicas.COOKIE}={cookie}")
            with urllib.request.urlopen(req, timeout=5) as r:
                backend, host = r.read().decode().split(" ", 1)
                return int(backend), host, r.headers.get("Set-Cookie")

        deadline = time.monotonic() + 10
        while True:
            try:
                _, host, set_cookie = get()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert host == f"lab.example:{port}"  # with its port, or Streamlit refuses the websocket's Origin
        assert set_cookie is not None and set_cookie.startswith(f"{replicas.COOKIE}=")
        value = set_cookie.split(";")[0].split("=", 1)[1]
        with_cookie = [get(value) for _ in range(10)]
        assert len({b for b, _, _ in with_cookie}) == 1  # the websocket, uploads and pictures: one replica
        assert all(c is None for _, _, c in with_cookie)  # a browser's cookie is given once, not replaced
        assert len({get(agent="no cookies")[0] for _ in range(10)}) == 1  # a browser refusing cookies too
        assert {get(f"browser{i}")[0] for i in range(24)} == set(ports)  # a room spreads over both

        _Named.static_requests = 0
        for i in range(24):  # every fresh browser fetches the JavaScript: the replicas send it once
            req = urllib.request.Request(f"http://127.0.0.1:{port}/static/js/index.abc123.js")
            req.add_header("Cookie", f"{replicas.COOKIE}=browser{i}")
            with urllib.request.urlopen(req, timeout=5) as r:
                assert r.status == 200
                status = r.headers.get("X-Cache-Status")
        assert _Named.static_requests == 1 and status == "HIT"

        # An upload larger than nginx buffers in memory goes through its temporary files to the replica.
        data = bytes(range(256)) * (8 * 1024)  # 2 MB
        upload = f"http://127.0.0.1:{port}/_stcore/upload_file/x"
        req = urllib.request.Request(upload, data=data, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert int(r.read()) == len(data)
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        for b in backends:
            b.shutdown()
        workdir.cleanup()


def test_a_failed_start_leaves_no_process_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """A replica that can't start (its port is taken) is noticed without waiting out the timeout, and the
    processes already started are stopped."""
    if NGINX is None:
        pytest.skip("needs nginx (Debian: nginx-light)")
    started: list[subprocess.Popen[bytes]] = []
    real = subprocess.Popen

    def spy(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        proc = real(*args, **kwargs)  # type: ignore[call-overload]
        started.append(proc)
        return proc

    monkeypatch.setattr(replicas.subprocess, "Popen", spy)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        t0 = time.monotonic()
        try:
            running = replicas.start(_free_port(), [taken.getsockname()[1], _free_port()], timeout=90)
        except SystemExit as stop:
            assert "did not start" in str(stop)
        else:
            running.stop()
            pytest.fail("a replica on a taken port counted as started")
    assert time.monotonic() - t0 < 60
    assert len(started) == 3 and all(p.poll() is not None for p in started)  # two replicas and nginx
