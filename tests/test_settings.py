"""Settings: defaults, config file, environment, validation."""
import os

import pytest

from index.errors import ConfigError
from ui.settings import Settings


def _clear_rag_env(monkeypatch) -> None:
    for key in [k for k in os.environ if k.startswith("RAG_")]:
        monkeypatch.delenv(key)


def test_defaults_work_offline(tmp_path, monkeypatch) -> None:
    _clear_rag_env(monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    s = Settings.load()
    home = tmp_path / "arabic-news-rag"
    assert (s.home, s.index_dir, s.models_dir) == (home, home / "index", home / "models")
    assert (s.embedding_model, s.backend, s.top_k, s.min_score) == ("embeddinggemma-300m", "local", 5, 0.30)


def test_file_then_env_then_overrides(tmp_path, monkeypatch) -> None:
    _clear_rag_env(monkeypatch)
    cfg = tmp_path / "rag.toml"
    cfg.write_text('top_k = 7\nchunk_tokens = 300\nmin_score = 0.35\nhome = "%s"\n' % tmp_path)
    monkeypatch.setenv("RAG_TOP_K", "9")
    monkeypatch.setenv("RAG_MIN_SCORE", "0.38")
    s = Settings.load(cfg, chunk_tokens=None, min_score=0.4)
    # top_k: env beats file; chunk_tokens: file beats the default, a None override is ignored;
    # min_score: an override beats env and file; models_dir: derived from the file's home
    assert (s.top_k, s.chunk_tokens, s.min_score, s.models_dir) == (9, 300, 0.4, tmp_path / "models")


@pytest.mark.parametrize("bad", [{"top_k": "many"}, {"index_kind": "ivf"}, {"backend": "gpt5"}, {"top_k": 0}])
def test_bad_values_are_clear_errors(bad) -> None:
    with pytest.raises(ConfigError):
        Settings.load(**bad)


def test_unknown_key_and_broken_file(tmp_path) -> None:
    (tmp_path / "a.toml").write_text("colour = 1\n")
    (tmp_path / "b.toml").write_text("top_k = [\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings.load(tmp_path / "a.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load(tmp_path / "b.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(tmp_path / "c.toml")
