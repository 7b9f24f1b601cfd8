"""Settings: defaults, config file, environment, validation."""
import pytest

from index.errors import ConfigError
from index.settings import Settings


def test_defaults_work_offline(monkeypatch) -> None:
    for key in [k for k in __import__("os").environ if k.startswith("RAG_")]:
        monkeypatch.delenv(key)
    s = Settings.load()
    assert s.embedding_model == "embeddinggemma-300m" and s.index_dir == s.home / "index"


def test_file_then_env_then_overrides(tmp_path, monkeypatch) -> None:
    cfg = tmp_path / "rag.toml"
    cfg.write_text('top_k = 7\nchunk_tokens = 300\nhome = "%s"\n' % tmp_path)
    monkeypatch.setenv("RAG_TOP_K", "9")
    s = Settings.load(cfg, chunk_tokens=None, min_score=0.4)
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
