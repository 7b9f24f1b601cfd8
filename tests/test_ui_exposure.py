"""Issue 15, item 3: the chat UI beyond loopback needs the token (or a loudly named override)."""
import logging
import os
import socket
import subprocess
import sys

import httpx
import pytest

from index.errors import ConfigError
from tests.conftest import ROOT
from tests.servers import free_port


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_item3_ui_refuses_a_network_bind_without_a_token(tmp_settings) -> None:
    """Item 3: `rag chat --host 0.0.0.0` served the UI to the network with no credential."""
    from ui.chat import launch

    port = free_port()
    with pytest.raises(ConfigError, match="RAG_API_TOKEN.*--insecure-no-auth"):
        launch(tmp_settings, "0.0.0.0", port, block=False)
    assert not _listening(port)


def test_item3_rag_chat_refuses_before_indexing_anything(tmp_path) -> None:
    """Item 3: the CLI says so at once, naming the token and the override."""
    env = {**os.environ, "RAG_HOME": str(tmp_path), "RAG_API_TOKEN": ""}
    out = subprocess.run([sys.executable, "-m", "ui.cli", "chat", "--host", "0.0.0.0", "--port", str(free_port())],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 2 and "refusing to listen on 0.0.0.0 without a token" in out.stderr
    assert "--insecure-no-auth" in out.stderr and not (tmp_path / "index").exists()


def test_item3_the_override_is_explicit_and_loud(tmp_settings, caplog) -> None:
    """Item 3: only the named flag lifts the rule, with a warning."""
    from ui.security import require_token_off_loopback

    with caplog.at_level(logging.WARNING):
        require_token_off_loopback(tmp_settings, "0.0.0.0", "the chat UI", "--insecure-no-auth", overridden=True)
    assert "WITHOUT ANY CREDENTIAL" in caplog.text and "--insecure-no-auth" in caplog.text
    require_token_off_loopback(tmp_settings.replace(api_token="t0ken"), "0.0.0.0", "the chat UI", "--insecure-no-auth")


@pytest.mark.slow
def test_item3_with_a_token_the_ui_asks_for_it(seed_index) -> None:
    """Item 3: with the token set, the page and its API want it as the password (checked on loopback)."""
    from ui.chat import launch

    port = free_port()
    app = launch(seed_index.replace(api_token="t0ken-for-ui"), "127.0.0.1", port, block=False)
    try:
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(url + "/config").status_code == 401
        with httpx.Client() as client:
            bad = client.post(url + "/login", data={"username": "me", "password": "wrong"})
            assert bad.status_code >= 400 and client.get(url + "/config").status_code == 401
            ok = client.post(url + "/login", data={"username": "anyone", "password": "t0ken-for-ui"})
            assert ok.status_code == 200 and client.get(url + "/config").status_code == 200
    finally:
        app.close()
