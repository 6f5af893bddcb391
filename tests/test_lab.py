"""JupyterLab as ``make lab`` starts it: the project kernel registered, the notebooks listed, a
cell executed by that kernel, and the Lab page itself in headless Chromium."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from helpers import lab

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_notebooks_name_the_project_kernel():
    for name in NOTEBOOKS:
        kernelspec = nbformat.read(ROOT / "notebooks" / name, as_version=4).metadata["kernelspec"]
        assert kernelspec["name"] == lab.KERNEL_NAME, name


def test_register_kernel_writes_a_spec_of_this_python(tmp_path):
    folder = lab.register_kernel(tmp_path)
    spec = json.loads((folder / "kernel.json").read_text())
    assert folder == tmp_path / "share" / "jupyter" / "kernels" / lab.KERNEL_NAME
    assert spec["display_name"] == lab.KERNEL_DISPLAY_NAME and spec["argv"][0] == sys.executable
    command = lab.lab_command(["--port=1"])
    assert f"--ServerApp.root_dir={ROOT}" in command and command[-1] == "--port=1" and "--no-browser" in command


@dataclass
class Server:
    url: str
    token: str

    def get(self, path: str) -> dict:
        request = urllib.request.Request(f"{self.url}{path}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"{self.url}{path}", data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory) -> Iterator[Server]:
    """JupyterLab on loopback with the command ``make lab`` runs, the kernel registered under
    a private prefix (nothing written to the user's or the venv's Jupyter folders)."""
    home = tmp_path_factory.mktemp("lab")
    lab.register_kernel(home)
    token, port = secrets.token_hex(16), free_port()
    env = {
        **os.environ,
        "JUPYTER_PATH": str(home / "share" / "jupyter"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_DATA_DIR": str(home / "data"),
    }
    command = lab.lab_command([
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
        "--ServerApp.port_retries=0", "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ])
    log = open(home / "lab.log", "w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", token)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                server.get("/api/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(home / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.mark.slow
def test_lab_lists_the_notebooks_and_offers_the_project_kernel(lab_server):
    listing = lab_server.get("/api/contents/notebooks")
    assert NOTEBOOKS and set(NOTEBOOKS) <= {item["name"] for item in listing["content"]}
    specs = lab_server.get("/api/kernelspecs")["kernelspecs"]
    assert specs[lab.KERNEL_NAME]["spec"]["display_name"] == lab.KERNEL_DISPLAY_NAME


async def execute_over_websocket(server: Server, kernel_id: str, code: str) -> tuple[str, str]:
    """Run ``code`` in a kernel of the server, through its websocket; (reply status, stdout)."""
    from jupyter_client.jsonutil import json_default
    from jupyter_client.session import Session
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    address = server.url.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels"
    socket_ = await websocket_connect(HTTPRequest(address, headers={"Authorization": f"token {server.token}"}))
    message = Session().msg("execute_request", {"code": code, "silent": False, "store_history": False,
                                                 "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
    message["channel"] = "shell"
    await socket_.write_message(json.dumps(message, default=json_default))
    stdout, status = "", ""
    while not status:
        reply = json.loads(await asyncio.wait_for(socket_.read_message(), timeout=60))
        if reply.get("parent_header", {}).get("msg_id") != message["header"]["msg_id"]:
            continue
        if reply["msg_type"] == "stream" and reply["content"]["name"] == "stdout":
            stdout += reply["content"]["text"]
        elif reply["msg_type"] == "execute_reply":
            status = reply["content"]["status"]
    socket_.close()
    return status, stdout


@pytest.mark.slow
def test_project_kernel_starts_and_executes_a_cell(lab_server):
    """A notebook session as Lab opens it: the project kernel, started in notebooks/, reads the
    notebooks' default params file and gives widget progress bars."""
    session = lab_server.post("/api/sessions", {
        "path": "notebooks/00_data_prep.ipynb", "name": "00_data_prep.ipynb", "type": "notebook",
        "kernel": {"name": lab.KERNEL_NAME},
    })
    code = ("import sys\nfrom helpers.params import load_params\nfrom helpers.progress import bar_kind\n"
            "print(sys.executable)\nprint(load_params('../params/demo.yaml').run_name)\nprint(bar_kind())")
    status, stdout = asyncio.run(execute_over_websocket(lab_server, session["kernel"]["id"], code))
    assert status == "ok", stdout
    assert stdout.splitlines() == [sys.executable, "demo", "widget"]


@pytest.mark.slow
def test_lab_page_shows_the_notebooks_in_a_browser(lab_server):
    from browser import chromium_browser, chromium_or_skip, open_page

    chromium_or_skip()
    with chromium_browser() as browser:
        page, log = open_page(browser, f"{lab_server.url}/lab/tree/notebooks?token={lab_server.token}",
                              allowed_hosts=(lab_server.url,))
        listing = page.locator(".jp-DirListing-content")
        listing.get_by_text(NOTEBOOKS[0]).wait_for(timeout=60_000)
        shown = listing.inner_text()
        assert all(name in shown for name in NOTEBOOKS), shown
        assert [e for e in log.problems() if "favicon" not in e] == []
