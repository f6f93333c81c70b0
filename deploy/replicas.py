"""Several cnnviz servers on one machine behind nginx, each student kept on one of them (session affinity).

All sessions of one Streamlit process share one interpreter lock, so in a full room a layer switch waits
for the other sessions' Python and for the server's own event loop (`bench/class.py --replicas` measures
it). Replicas split the room over processes. nginx balances them; this script only writes its configuration
and starts and stops the processes:

    python deploy/replicas.py --replicas 2 --port 8501      # students open http://THIS-MACHINE:8501

Affinity is a cookie: nginx gives a browser without one a random value, and the same value always hashes to
the same replica (`hash ... consistent`), so the page's websocket, its uploads and its pictures all reach
the process that holds the session. A browser that refuses cookies is kept on one replica by its address
and user agent. A room behind one NAT address would all land on one replica with `ip_hash`, which is why it
is not used. Needs nginx (Debian: `apt-get install nginx-light`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Replicas", "nginx_config", "nginx_workdir", "start", "stop_processes", "threads_per_replica"]

ROOT = Path(__file__).resolve().parent.parent
COOKIE = "cnnviz_replica"
MAX_UPLOAD_MB = 200  # as server.maxUploadSize in .streamlit/config.toml


def threads_per_replica(replicas: int, cores: int | None = None) -> int:
    """torch threads for each replica's passes: the cores one server would get (all but one, for the
    sessions' Python) split between the replicas, at least 1."""
    cores = cores or os.cpu_count() or 1
    return max(1, (cores - 1) // replicas)


def nginx_config(
    listen: str, port: int, backends: list[int], workdir: Path, static_cache: bool = True
) -> str:
    """An nginx configuration that serves on `listen:port` and sends each browser to one of `backends`
    (loopback ports), always the same one. Its temporary files and pid file live in `workdir`, so it runs
    without root and beside a system nginx. `static_cache=False` leaves Streamlit's static files uncached
    (for `bench/class.py`'s comparison)."""
    if not backends:
        raise ValueError("nginx needs at least one backend port")
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in backends)
    w = workdir
    # Streamlit's JavaScript and fonts: content-hashed names, sent "immutable, max-age one year". Kept here,
    # so each file is read from a replica once, not once per fresh browser (one server's event loop spent
    # about a fifth of its interpreter time sending them to a class).
    static = """        location /static/ {
            proxy_pass http://cnnviz;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_cache cnnviz_static;
            proxy_cache_key $uri;
            proxy_cache_lock on;  # a room opening the page at once: one request goes on, the rest wait
            add_header X-Cache-Status $upstream_cache_status always;
        }
"""
    return f"""daemon off;
worker_processes 1;
pid {w}/nginx.pid;
error_log stderr warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    client_body_temp_path {w}/body;
    proxy_temp_path {w}/proxy;
    fastcgi_temp_path {w}/fastcgi;
    uwsgi_temp_path {w}/uwsgi;
    scgi_temp_path {w}/scgi;
    client_max_body_size {MAX_UPLOAD_MB}m;
    proxy_cache_path {w}/cache levels=1:2 keys_zone=cnnviz_static:10m max_size=256m inactive=7d
                     use_temp_path=off;
    # The replica is picked by the cookie; a request without one (a browser's first, or a browser that
    # refuses cookies) by its address and user agent, which stay the same for that browser. Only the
    # first page load of a browser that takes cookies may go elsewhere, and it holds no session yet.
    map $cookie_{COOKIE} $cnnviz_affinity {{
        "" "$remote_addr $http_user_agent";
        default $cookie_{COOKIE};
    }}
    map $cookie_{COOKIE} $cnnviz_new_cookie {{
        "" "{COOKIE}=$request_id; Path=/; HttpOnly; SameSite=Lax";
        default "";
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        "" close;
    }}
    upstream cnnviz {{
        hash $cnnviz_affinity consistent;
{servers}
    }}
    server {{
        listen {listen}:{port};
{static if static_cache else ""}        location / {{
            proxy_pass http://cnnviz;
            proxy_http_version 1.1;
            # With its port: Streamlit checks a websocket's Origin against the Host it is given.
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1d;
            add_header Set-Cookie $cnnviz_new_cookie always;
            add_header X-Cnnviz-Replica $upstream_addr always;
        }}
    }}
}}
"""


def nginx_workdir() -> tempfile.TemporaryDirectory[str]:
    """A fresh folder for nginx's configuration, temporary files and cache, open to nginx's workers: started
    as root, nginx runs them as another user (nobody), who must reach the uploads it buffers and its cache."""
    tmp = tempfile.TemporaryDirectory(prefix="cnnviz-nginx-")
    os.chmod(tmp.name, 0o755)
    return tmp


@dataclass
class Replicas:
    """Running replicas and their nginx; `stop()` ends them all."""

    servers: list[subprocess.Popen[bytes]]
    nginx: subprocess.Popen[bytes]
    ports: list[int]
    workdir: tempfile.TemporaryDirectory[str] = field(repr=False)  # nginx's configuration, cache, temp files

    @property
    def pids(self) -> list[int]:
        """The Streamlit processes (not nginx)."""
        return [s.pid for s in self.servers]

    def stop(self) -> None:
        stop_processes([self.nginx, *self.servers])
        self.workdir.cleanup()


def stop_processes(procs: list[subprocess.Popen[bytes]], timeout: float = 20) -> None:
    """Asks every process to end (SIGTERM), then kills those still running `timeout` s later."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _healthy(url: str, timeout: float, proc: subprocess.Popen[bytes]) -> bool:
    """Whether `url` answers within `timeout` s; False at once if `proc` (the server behind it) has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            time.sleep(0.3)
    return False


def start(
    port: int,
    backend_ports: list[int],
    listen: str = "127.0.0.1",
    env: dict[str, str] | None = None,
    script: str = "app.py",
    flags: list[str] | None = None,
    timeout: float = 120,
    quiet: bool = True,
    static_cache: bool = True,
) -> Replicas:
    """Starts one `streamlit run` process on each loopback port of `backend_ports` and nginx on `listen:port`,
    once every replica answers its health check. Whatever fails or interrupts the start (an exception,
    Ctrl-C), the processes started so far are stopped.

    Raises:
        SystemExit: nginx is not installed, or a replica or nginx did not come up within `timeout` s.
    """
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        raise SystemExit("nginx is not installed (Debian: apt-get install nginx-light)")
    if not backend_ports:
        raise ValueError("replicas need at least one backend port")
    out = subprocess.DEVNULL if quiet else None
    threads = str(threads_per_replica(len(backend_ports)))
    base_env = {**os.environ, "MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": threads, **(env or {})}
    tmp = nginx_workdir()
    workdir = Path(tmp.name)
    servers: list[subprocess.Popen[bytes]] = []
    proxy: subprocess.Popen[bytes] | None = None
    try:
        for p in backend_ports:
            cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(p)]
            cmd += ["--server.address", "127.0.0.1", *(flags or [])]
            # Own sessions: a terminal's Ctrl-C or hang-up reaches this script, which stops them in order.
            servers.append(
                subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=out, env=base_env, start_new_session=True)
            )
        conf = workdir / "nginx.conf"
        conf.write_text(nginx_config(listen, port, backend_ports, workdir, static_cache))
        proxy = subprocess.Popen(
            [nginx, "-c", str(conf), "-p", str(workdir)], stdout=out, stderr=out, start_new_session=True
        )
        for p, server in zip(backend_ports, servers, strict=True):
            if not _healthy(f"http://127.0.0.1:{p}/_stcore/health", timeout, server):
                raise SystemExit(f"the replica on port {p} did not start within {timeout:.0f} s")
        host = "127.0.0.1" if listen in ("0.0.0.0", "") else listen
        if not _healthy(f"http://{host}:{port}/_stcore/health", 10, proxy):
            raise SystemExit(f"nginx did not answer on {listen}:{port}")
    except BaseException:
        stop_processes([*([proxy] if proxy is not None else []), *servers])
        tmp.cleanup()
        raise
    return Replicas(servers, proxy, list(backend_ports), tmp)


def _stop_on(*signals: signal.Signals) -> None:
    """Turns these signals into KeyboardInterrupt, so that the `finally` that stops everything runs."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    for sig in signals:
        signal.signal(sig, interrupt)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, default=2, help="Streamlit processes (2 was measured)")
    ap.add_argument("--port", type=int, default=8501, help="the port students open")
    ap.add_argument("--address", default="0.0.0.0", help="the address nginx listens on")
    ap.add_argument("--first-backend-port", type=int, default=8601, help="replicas use this port and up")
    args = ap.parse_args()
    if args.replicas < 1:
        raise SystemExit("--replicas must be at least 1")
    ports = list(range(args.first_backend_port, args.first_backend_port + args.replicas))
    _stop_on(signal.SIGTERM, signal.SIGHUP)  # before anything starts: a stop while starting stops it all
    running = None
    try:
        running = start(args.port, ports, listen=args.address, quiet=False)
        print(
            f"cnnviz: {args.replicas} replicas on ports {ports[0]}-{ports[-1]}, "
            f"{threads_per_replica(args.replicas)} torch thread(s) each, "
            f"behind nginx on {args.address}:{args.port}",
            flush=True,
        )
        while all(p.poll() is None for p in [running.nginx, *running.servers]):
            time.sleep(1)
        print("cnnviz: a replica or nginx stopped; stopping the rest", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        if running is not None:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second stop must not cut the clean-up short
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            running.stop()


if __name__ == "__main__":
    main()
