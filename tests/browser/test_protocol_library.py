"""The browser client's protocol library in real Chromium, where WebCrypto has ML-KEM-768
(Node 20 has not): the tests of tests/web/ that need it (members' hybrid keys, HPKE,
commits, sealed content, the interop with Python) run here, in a page, unchanged.

The page's origin serves the repository (https://relaydesk.test/, a secure context, so
WebCrypto is there); an import map gives the test files the few Node modules they use
(tests/browser/node_shims/: node:test, node:assert/strict, node:fs, node:path, ...).
``spawn`` of tests/web/interop_peer.py becomes the same peer run in this process, so
Python seals and the browser opens, and the browser seals and Python opens, for real.
Each file must run every one of its tests: none may be skipped here.
"""

from __future__ import annotations

import importlib.util
import json
import mimetypes
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ORIGIN = "https://relaydesk.test"
# The files of tests/web/ with tests that need ML-KEM-768 (needsMlKem in helpers.mjs).
FILES = [
    "commit.test.mjs",
    "content.test.mjs",
    "crypto.test.mjs",
    "e2e.test.mjs",
    "fuzz.test.mjs",
    "interop.test.mjs",
]
SHIMS = ["test", "assert/strict", "fs", "path", "url", "child_process", "readline"]
PAGE = """<!doctype html><meta charset="utf-8"><title>protocol library</title>
<script type="importmap">{"imports": %s}</script>"""


def _shim(module: str) -> str:
    return f"/tests/browser/node_shims/{module.split('/', maxsplit=1)[0]}.mjs"


def _page() -> str:
    imports = {f"node:{module}": _shim(module) for module in SHIMS}
    return PAGE % json.dumps(imports)


def _serve(route: Any) -> None:
    """The repository's files, read-only, at the page's origin; the page itself at /."""
    path = route.request.url.removeprefix(ORIGIN).split("?")[0]
    if path == "/":
        route.fulfill(body=_page(), content_type="text/html")
        return
    file = Path(os.path.normpath(REPO / path.lstrip("/")))  # .venv/bin/python is a link
    if not file.is_relative_to(REPO) or not file.is_file():
        route.fulfill(status=404, body="not found")
        return
    if route.request.method == "HEAD":
        route.fulfill(status=200, body="")
        return
    kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    if file.suffix in (".js", ".mjs"):
        kind = "text/javascript"
    route.fulfill(body=file.read_bytes(), content_type=kind)


def _interop_peer() -> Any:
    spec = importlib.util.spec_from_file_location(
        "interop_peer", REPO / "tests/web/interop_peer.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    peer = module.Peer()

    def answer(line: str) -> str:  # what interop_peer.main() does for one line
        request = json.loads(line)
        try:
            reply = getattr(peer, request["command"])(request)
        except module.RelaydeskError as error:
            reply = module.outcome(error)
        return json.dumps(reply)

    return answer


@pytest.fixture(scope="module")
def library_page(chromium: Any) -> Any:
    context = chromium.new_context()
    page = context.new_page()
    page.route(f"{ORIGIN}/**", _serve)
    page.expose_function("interopPeer", _interop_peer())
    page.goto(f"{ORIGIN}/")
    yield page
    context.close()


def test_this_chromium_has_ml_kem_and_the_library_sees_it(library_page: Any) -> None:
    primitives = "/src/relaydesk/web/static/js/protocol/primitives.js"
    has = library_page.evaluate("async (url) => (await import(url)).hasMlKem", primitives)
    assert has is True


@pytest.mark.parametrize("name", FILES)
def test_web_tests_pass_in_chromium(library_page: Any, name: str) -> None:
    results = library_page.evaluate(
        """async (name) => {
            const runner = await import("node:test");
            await import(`/tests/web/${name}`);
            return await runner.run();
        }""",
        name,
    )
    assert results, f"{name} registered no test"
    failed = [f"{r['name']}: {r['error']}" for r in results if r["outcome"] == "fail"]
    skipped = [r["name"] for r in results if r["outcome"] == "skip"]
    assert failed == [], "\n\n".join(failed)
    assert skipped == [], skipped  # in Chromium nothing needs to be left out
