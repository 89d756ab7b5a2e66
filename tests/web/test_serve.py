"""`make serve` (gunicorn, production settings, migrations first) and the reverse-proxy setting."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest
from flask import request

from app import create_app
from app.db import make_engine
from config import ROOT


def _app(tmp_path, **config):
    url = f"sqlite:///{tmp_path}/proxy.db"
    app = create_app(
        {
            "ENV": "test",
            "SECRET_KEY": "x-test",
            "DATABASE_URL": url,
            "ENGINE": make_engine(url),
            "RATELIMIT_STORAGE_URI": "memory://",
            **config,
        }
    )

    @app.get("/_seen")
    def _seen():
        return {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host}

    return app


FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "aixin.example.org"}


def test_forwarded_headers_are_ignored_unless_a_proxy_is_configured(tmp_path):
    seen = _app(tmp_path).test_client().get("/_seen", headers=FORWARDED).get_json()
    assert seen == {"addr": "127.0.0.1", "scheme": "http", "host": "localhost"}


def test_behind_one_proxy_the_client_address_scheme_and_host_come_from_it(tmp_path):
    seen = _app(tmp_path, PROXY_HOPS=1).test_client().get("/_seen", headers=FORWARDED).get_json()
    assert seen == {"addr": "203.0.113.7", "scheme": "https", "host": "aixin.example.org"}
    # A client that forges a hop in front of the proxy does not get its forged address trusted.
    forged = {**FORWARDED, "X-Forwarded-For": "10.9.9.9, 203.0.113.7"}
    seen = _app(tmp_path, PROXY_HOPS=1).test_client().get("/_seen", headers=forged).get_json()
    assert seen["addr"] == "203.0.113.7"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (127.0.0.1 only)
        return resp.status, dict(resp.headers), resp.read()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_serve_migrates_generates_keys_once_and_serves_in_production(tmp_path):
    port = _free_port()
    env_file = tmp_path / "serve.env"
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ID_HASH_KEY", "AIXIN_ENV")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path}/serve.db",
        SERVE_BIND=f"127.0.0.1:{port}",
        SERVE_ENV_FILE=str(env_file),
        SERVE_JOBS="0",
        WEB_CONCURRENCY="2",
    )

    def start():
        return subprocess.Popen(
            ["make", "--no-print-directory", "serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_up(proc):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                return _get(f"http://127.0.0.1:{port}/healthz")
            except OSError:
                time.sleep(0.3)
        raise AssertionError("make serve did not answer within 60 s")

    def stop(proc):
        os.killpg(proc.pid, signal.SIGTERM)
        return proc.communicate(timeout=30)[0].decode()

    proc = start()
    try:
        status, headers, body = wait_up(proc)
    finally:
        out = stop(proc)
    assert status == 200 and b'"reachable"' in body
    assert "Strict-Transport-Security" in headers  # production settings
    assert "gunicorn, 2 workers" in out and "generated SECRET_KEY" in out
    # gunicorn.conf.py was read: each worker froze the app's startup objects out of the collector's scans.
    frozen = [int(n) for n in re.findall(r"worker \d+: (\d+) objects frozen", out)]
    assert len(frozen) == 2 and min(frozen) > 10_000, out
    assert (tmp_path / "serve.db").exists()  # migrations ran first
    keys = env_file.read_text()
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    # A second start reuses the keys (sessions and ID-number hashes survive a restart).
    proc = start()
    try:
        wait_up(proc)
    finally:
        out = stop(proc)
    assert "generated" not in out
    assert env_file.read_text() == keys
