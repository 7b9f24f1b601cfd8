"""Issue 15, "Loader": files a careless user or an attacker leaves in the articles folder."""
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from index.loader import decode, printable, read_corpus, summarize_skipped

ARABIC = "الولايات المتحدة والعراق يبحثان التعاون الأمني في بغداد، وفق بيان مشترك صدر اليوم."


def _random_text_bytes(n: int, seed: int = 7) -> bytes:
    """Random bytes with no NUL: what cp1256 happily 'decodes'."""
    rng = random.Random(seed)
    return bytes(rng.randrange(1, 256) for _ in range(n))


@pytest.mark.parametrize("seed", range(5))
def test_loader_random_bytes_are_not_text(seed: int) -> None:
    """Issue 15 loader: random bytes decoded as Windows-1256 were indexed as text."""
    with pytest.raises(ValueError, match="not"):
        decode(_random_text_bytes(4000, seed))


def test_loader_nul_after_the_first_8_kb_is_binary() -> None:
    """Issue 15 loader: a NUL after the first 8 KB was kept."""
    data = (ARABIC + "\n").encode() * 200 + b"\x00\x01\x02" + ARABIC.encode()
    assert len(data) > 8192 * 2
    with pytest.raises(ValueError, match="binary"):
        decode(data)


def test_loader_utf16_with_bom_is_read() -> None:
    """Issue 15 loader: UTF-16 files were reported as binary."""
    assert decode(ARABIC.encode("utf-16")) == ARABIC  # BOM + little endian
    assert decode(b"\xfe\xff" + ARABIC.encode("utf-16-be")) == ARABIC


def test_loader_clean_text_still_reads() -> None:
    """The letter-ratio test keeps real articles: Arabic, English, with digits and HTML markup."""
    assert decode(ARABIC.encode("cp1256")) == ARABIC
    english = "The strategic dialogue between Baghdad and Washington covers 2,500 troops in 2021.\n"
    assert decode(english.encode()) == english
    page = f'<html><head><meta charset="utf-8"><title>خبر</title></head><body><p class="lead">{ARABIC}</p></body></html>'
    assert decode(page.encode()) == page


def test_loader_symlink_out_of_the_folder_is_skipped_with_a_warning(tmp_path: Path, caplog) -> None:
    """Issue 15 loader: a symlink pointing outside the folder was followed, indexed and served."""
    secret = tmp_path / "secret.txt"
    secret.write_text("كلمة السر الخاصة بالخادم هي " + ARABIC, encoding="utf-8")
    (tmp_path / "outside_dir").mkdir()
    (tmp_path / "outside_dir" / "more.txt").write_text(ARABIC, encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(ARABIC, encoding="utf-8")
    (corpus / "inner.txt").symlink_to(corpus / "good.txt")  # stays inside: fine
    (corpus / "leak.txt").symlink_to(secret)
    (corpus / "linked").symlink_to(tmp_path / "outside_dir")
    files, skipped = read_corpus(corpus)
    assert sorted(f.rel_path for f in files) == ["good.txt", "inner.txt"]
    assert {s.rel_path: s.category for s in skipped} == {"leak.txt": "symlink"} or \
        {s.rel_path: s.category for s in skipped} == {"leak.txt": "symlink", "linked/more.txt": "symlink"}
    assert "leak.txt" in caplog.text and "outside the folder" in caplog.text
    assert all("كلمة السر" not in f.text for f in files)


def test_loader_summary_counts_skipped_files_with_reasons(tmp_path: Path) -> None:
    """Issue 15 loader: a summary line 'indexed N, skipped M (reasons…)'."""
    (tmp_path / "good.txt").write_text(ARABIC, encoding="utf-8")
    (tmp_path / "empty.txt").write_text(" ", encoding="utf-8")
    (tmp_path / "bin.txt").write_bytes(b"\x00\x01")
    (tmp_path / "noise.txt").write_bytes(_random_text_bytes(3000))
    (tmp_path / "u16.txt").write_bytes(ARABIC.encode("utf-16"))
    files, skipped = read_corpus(tmp_path)
    assert sorted(f.rel_path for f in files) == ["good.txt", "u16.txt"]
    assert summarize_skipped(skipped) == "3 (1 binary, 1 empty, 1 not text)"


def test_loader_file_names_are_printed_escaped(tmp_path: Path, caplog, capsys) -> None:
    """Issue 15 loader: control characters (ESC, raw newlines) in file names reached the terminal."""
    evil = "x\x1b[2J\nINFO fake log line\u202e.txt"
    (tmp_path / evil).write_bytes(b"\x00")
    assert printable(evil) == "x\\x1b[2J\\nINFO fake log line\\u202e.txt"
    assert printable("مقال.txt") == "مقال.txt"
    _, skipped = read_corpus(tmp_path)
    assert skipped[0].rel_path == evil
    assert "\x1b" not in caplog.text and "\\x1b[2J\\nINFO" in caplog.text


def test_loader_undecodable_file_name_is_skipped(tmp_path: Path) -> None:
    """Issue 15 loader: a file name that is not UTF-8 cannot reach the index (it would not encode)."""
    name = os.fsencode(str(tmp_path)) + b"/bad\xff.txt"
    with open(name, "wb") as fh:
        fh.write(ARABIC.encode())
    files, skipped = read_corpus(tmp_path)
    assert files == [] and skipped[0].category == "file name"
    assert printable(skipped[0].rel_path) == "bad\\udcff.txt"


def _rag(*args: str, home: Path) -> subprocess.CompletedProcess:
    from tests.conftest import MODELS_DIR, ROOT

    env = {**os.environ, "RAG_HOME": str(home), "RAG_MODELS_DIR": str(MODELS_DIR)}
    return subprocess.run([sys.executable, "-m", "ui.cli", *args], capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)


@pytest.mark.slow  # starts `rag index` as its own process (imports torch): ~3.5 s
def test_loader_rag_index_escapes_file_names_on_the_terminal(tmp_path: Path) -> None:
    """Issue 15 loader: `rag index` printed control characters of file names to the terminal."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a\x1b]0;pwned\x07\nERROR fake.txt").write_bytes(b"\x00binary")
    out = _rag("index", str(folder), "--index-dir", str(tmp_path / "idx"), home=tmp_path)
    assert out.returncode == 2 and "no readable article" in out.stderr
    assert "\x1b" not in out.stderr and "\x07" not in out.stderr and "\nERROR fake" not in out.stderr
    assert "a\\x1b]0;pwned\\x07\\nERROR fake.txt" in out.stderr


@pytest.mark.slow
def test_loader_rag_index_summary_line_counts_the_skipped(tmp_path: Path) -> None:
    """Issue 15 loader: the summary line reads 'indexed N, skipped M (reasons…)'."""
    from tests.conftest import SEEDS

    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(SEEDS / "001_855d7bddcf291e5e.txt", folder)
    (folder / "noise.txt").write_bytes(_random_text_bytes(3000))
    (folder / "image.md").write_bytes(b"\x89PNG\x00")
    (folder / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "secret.txt").write_text(ARABIC, encoding="utf-8")
    out = _rag("index", str(folder), "--index-dir", str(tmp_path / "idx"), home=tmp_path)
    assert out.returncode == 0, out.stderr
    summary = out.stdout.strip().splitlines()[-1]
    assert summary.startswith("indexed 1, skipped 3 (") and all(k in summary for k in ("1 binary", "1 not text", "1 symlink"))
