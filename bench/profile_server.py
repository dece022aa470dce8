"""Profiles ``python -m rswsgi.dev hello_app:app --quiet`` on a fixed number of requests.

    python bench/profile_server.py strace [--requests 20000] [--conns 1]
    python bench/profile_server.py callgrind [--requests 10000] [--conns 1]
    python bench/profile_server.py callgrind --server bjoern   # a peer, for comparison

The client is deterministic: ``--conns`` keep-alive connections; each step sends one
``GET /`` on every connection, then reads every response (so with 16 connections the
server finds up to 16 sockets ready per wakeup, like ``wrk -c16``). It checks every
response (status 200, the 13-byte body).

- ``strace``: the server runs under ``strace -c -f``; prints the syscall table and the
  syscalls per request. The 20 warm-up requests and the start-up are counted too; with
  20,000 requests they are noise, but compare with a ``--requests 0`` run if in doubt.
- ``callgrind``: the server runs under ``valgrind --tool=callgrind --instr-atstart=no``
  (with ``PYTHONHASHSEED=0``, so that two runs of one build count the same);
  instrumentation is switched on (``callgrind_control -i on``) after start-up and warm-up and
  off after the last response, so only request handling is counted. Writes
  ``callgrind.out.*`` into ``--outdir`` (default: a temp dir) and prints
  ``callgrind_annotate --inclusive=no`` and ``--inclusive=yes`` heads.

Needs ``strace`` or ``valgrind`` (Debian: ``apt-get install strace valgrind``). Every step
is bounded in time and the server is killed at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"  # what wrk sends
BODY = b"Hello, World!"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def read_response(s: socket.socket, buf: bytearray) -> None:
    """Reads one Content-Length response off ``s`` (``buf`` keeps what follows it)."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", buf[:end])
            if m is None:
                raise RuntimeError(f"no Content-Length: {bytes(buf[:end])!r}")
            total = end + 4 + int(m.group(1))
            if len(buf) >= total:
                if not buf.startswith(b"HTTP/1.1 200 ") or buf[end + 4 : total] != BODY:
                    raise RuntimeError(f"unexpected response {bytes(buf[:total])!r}")
                del buf[:total]
                return
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("server closed the connection")
        buf += chunk


def drive(port: int, requests: int, conns: int) -> float:
    """Sends ``requests`` requests over ``conns`` keep-alive connections; returns seconds."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(conns)]
    bufs = [bytearray() for _ in socks]
    t0 = time.perf_counter()
    try:
        sent = 0
        while sent < requests:
            batch = socks[: min(conns, requests - sent)]
            for s in batch:
                s.sendall(REQUEST)
            for s, buf in zip(batch, bufs, strict=False):
                read_response(s, buf)
            sent += len(batch)
    finally:
        for s in socks:
            s.close()
    return time.perf_counter() - t0


def wait_ready(port: int, proc: subprocess.Popen[bytes], cap: float) -> None:
    deadline = time.monotonic() + cap
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            drive(port, 1, 1)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server not ready within {cap:.0f} s")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("tool", choices=["strace", "callgrind"])
    p.add_argument("--requests", type=int)
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--outdir")
    p.add_argument(
        "--server",
        default="rswsgi",
        choices=["rswsgi", "bjoern", "fastpysgi", "socketify", "waitress"],
        help="profile a peer instead (through serve_peer.py), for comparison",
    )
    args = p.parse_args()
    n = args.requests if args.requests is not None else (20000 if args.tool == "strace" else 10000)
    outdir = Path(args.outdir or tempfile.mkdtemp(prefix="profile_server_"))
    outdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    if args.server == "rswsgi":
        server = [sys.executable, "-m", "rswsgi.dev", "hello_app:app", "--quiet"]
        server += ["--port", str(port)]
    else:
        server = [sys.executable, str(HERE / "serve_peer.py"), args.server, str(port)]
    if args.tool == "strace":
        log = outdir / "strace.txt"
        argv = ["strace", "-c", "-f", "-o", str(log), *server]
    else:
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
        argv += [f"--callgrind-out-file={outdir}/callgrind.out.%p", *server]
    # A fixed hash seed: str hashes, and so the dict probes of the environ, are then the
    # same in every run (with a random seed they move the count by ~1%).
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.Popen(argv, cwd=HERE, start_new_session=True, env=env)
    try:
        wait_ready(port, proc, 120)
        drive(port, 20, args.conns)  # warm-up
        if args.tool == "callgrind":
            subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, timeout=60)
        secs = drive(port, n, args.conns)
        if args.tool == "callgrind":
            subprocess.run(
                ["callgrind_control", "-i", "off", str(proc.pid)], check=True, timeout=60
            )
        print(f"{n} requests over {args.conns} connection(s) in {secs:.2f} s", file=sys.stderr)
    finally:
        # SIGINT: the server stops like on Ctrl-C, so strace/callgrind write their output.
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if args.tool == "strace":
        text = log.read_text()
        print(text)
        if m := re.search(r"^100\.00\s+\S+\s+\S+\s+(\d+)", text, re.M):
            total = int(m.group(1))
            print(f"syscalls per request: {total / max(n, 1):.2f} ({total} in all)")
    else:
        outs = sorted(outdir.glob("callgrind.out.*"), key=lambda f: f.stat().st_size)
        out = str(outs[-1])
        for inclusive in ("no", "yes"):
            ann = subprocess.run(
                ["callgrind_annotate", f"--inclusive={inclusive}", "--threshold=99", out],
                capture_output=True,
                text=True,
                timeout=120,
            ).stdout
            print("\n".join(ann.splitlines()[:60]))
        print(f"callgrind output: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
