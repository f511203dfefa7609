"""The ISA variants are listed once (CMakeLists.txt, sb_isa_variant) and everything else derives
from that list: the C++ enum, dispatch tables and build facts through the generated
sb_isa_config.hpp, Python's sparsebench.kernels.KNOWN_ISAS through _kernels.known_isas()."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sparsebench import _kernels, kernels

REPO = Path(__file__).resolve().parents[1]
LIST_FILE = REPO / "CMakeLists.txt"
# The sources of the build and of the Python ISA facts: the list must be spelled in none of them
# but LIST_FILE. (Comments may mention a variant, e.g. "the scalar reference".)
SOURCE_GLOBS = ["CMakeLists.txt", "cmake/**/*", "kernels/**/*", "src/sparsebench/kernels.py",
                "tools/arm/run_tier.sh", "tools/arm/*.cmake"]


def _strip_comments(path: Path, text: str) -> str:
    if path.suffix in {".cpp", ".hpp", ".h", ".cc", ".in", ".def"}:
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        return re.sub(r"//[^\n]*", " ", text)
    if path.suffix in {".py", ".sh", ".cmake", ".txt"} or path.name == "CMakeLists.txt":
        return re.sub(r"(?m)(^|\s)#[^\n]*", " ", text)
    return text


def _sources() -> list[Path]:
    seen: dict[Path, None] = {}
    for pattern in SOURCE_GLOBS:
        for p in sorted(REPO.glob(pattern)):
            if p.is_file():
                seen[p] = None
    return list(seen)


def test_python_list_is_the_extensions():
    assert kernels.KNOWN_ISAS == tuple(_kernels.known_isas())
    assert len(set(kernels.KNOWN_ISAS)) == len(kernels.KNOWN_ISAS)


def test_compiled_and_usable_follow_the_list_order():
    known = list(_kernels.known_isas())
    compiled = list(_kernels.compiled_isas())
    usable = list(_kernels.usable_isas())
    assert compiled and compiled[0] == known[0], "the list's first variant (the reference) is always compiled"
    assert compiled == [i for i in known if i in compiled]
    assert usable == [i for i in compiled if i in usable]
    assert list(_kernels.build_info()["isa_flags"]) == compiled
    assert _kernels.resolve_isa(None) in usable


def test_unknown_variant_message_lists_the_known_ones():
    with pytest.raises(ValueError, match=re.escape(f"(known: {', '.join(_kernels.known_isas())}, auto)")):
        _kernels.resolve_isa("no-such-isa")


@pytest.mark.parametrize("isa", list(_kernels.known_isas()))
def test_isa_name_is_spelled_in_exactly_one_source_file(isa):
    word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(isa)}(?![A-Za-z0-9_])")
    hits = [p.relative_to(REPO).as_posix() for p in _sources()
            if word.search(_strip_comments(p, p.read_text(errors="replace")))]
    assert hits == [LIST_FILE.name], f"ISA name {isa!r} spelled in {hits}; it belongs in {LIST_FILE.name} only"


def test_list_file_declares_every_known_variant_in_order():
    declared = re.findall(r"(?m)^\s*sb_isa_variant\(\s*([A-Za-z0-9_]+)", _strip_comments(LIST_FILE, LIST_FILE.read_text()))
    assert declared == list(_kernels.known_isas())
