"""Reading articles: encodings, HTML, and files that must be skipped without crashing."""
from pathlib import Path

import pytest

from index.errors import CorpusError
from index.loader import decode, html_to_text, read_corpus

ARABIC = "الولايات المتحدة والعراق يبحثان التعاون الأمني في بغداد."


def test_utf8_bom_and_cp1256_decode_to_the_same_text() -> None:
    assert decode(ARABIC.encode("utf-8")) == ARABIC
    assert decode(b"\xef\xbb\xbf" + ARABIC.encode("utf-8")) == ARABIC
    assert decode(ARABIC.encode("cp1256")) == ARABIC


def test_binary_and_non_arabic_garbage_are_rejected() -> None:
    with pytest.raises(ValueError, match="binary"):
        decode(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(ValueError):
        decode("café naïve résumé déjà vu".encode("latin-1"))


def test_html_keeps_visible_text_only() -> None:
    text = html_to_text("<html><head><style>p{}</style><script>var x=1</script><title>T</title></head>"
                        "<body><h1>عنوان</h1><p>فقرة &amp; أولى</p><div>ثانية</div></body></html>")
    # one block per line, blank lines between blocks, entities decoded, <style> and <script> dropped
    assert text.split("\n") == ["T", "", "عنوان", "", "فقرة & أولى", "", "ثانية"]


def test_corpus_skips_bad_files_with_reasons(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "good.txt").write_text(ARABIC, encoding="utf-8")
    (tmp_path / "sub" / "win.txt").write_bytes(ARABIC.encode("cp1256"))
    (tmp_path / "page.html").write_text(f"<p>{ARABIC}</p>", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("  \n ", encoding="utf-8")
    (tmp_path / "image.md").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "ignored.pdf").write_bytes(b"%PDF")
    files, skipped = read_corpus(tmp_path)
    assert [f.rel_path for f in files] == ["good.txt", "page.html", "sub/win.txt"]
    assert all(ARABIC in f.text for f in files)
    assert {s.rel_path: s.reason for s in skipped} == {"empty.txt": "empty file", "image.md": "binary file (contains NUL bytes)"}


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        read_corpus(tmp_path / "nope")
