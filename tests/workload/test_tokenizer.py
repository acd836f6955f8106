import gzip
import lzma
import os
import shutil
from pathlib import Path

import pytest

from slotune.errors import InputError
from slotune.workload.tokenizer import load_tokenizer

HELLO_IDS = [9707, 1879, 0]  # "Hello world!" in the Qwen3 tokenizer


@pytest.mark.parametrize("suffix", ["", ".xz", ".gz"])
def test_a_file_plain_or_compressed_and_a_folder_holding_it_load_the_same(tmp_path, tokenizer_path, suffix):
    raw = tokenizer_path.read_bytes()
    packed = {"": lambda b: b, ".xz": lambda b: lzma.compress(b, preset=0), ".gz": gzip.compress}[suffix](raw)
    folder = tmp_path / "model"
    folder.mkdir()
    file = folder / f"tokenizer.json{suffix}"
    file.write_bytes(packed)
    assert load_tokenizer(file).encode("Hello world!").ids == HELLO_IDS
    assert load_tokenizer(folder).encode("Hello world!").ids == HELLO_IDS


def test_a_rewritten_file_loads_again(tmp_path, tokenizer_path):
    file = tmp_path / "tokenizer.json"
    shutil.copy(tokenizer_path, file)
    first = load_tokenizer(file)
    assert load_tokenizer(file) is first  # cached
    file.write_bytes(tokenizer_path.read_bytes())
    os.utime(file, ns=(file.stat().st_atime_ns, file.stat().st_mtime_ns + 1_000_000_000))
    assert load_tokenizer(file) is not first


def test_a_missing_path_or_folder_without_tokenizer_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError, match=r"--tokenizer.*file not found"):
        load_tokenizer(tmp_path / "missing.json")
    with pytest.raises(InputError, match="model folder holding one"):
        load_tokenizer(tmp_path)


def test_a_broken_file_is_an_input_error(tmp_path: Path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="fast-tokenizer"):
        load_tokenizer(bad)
