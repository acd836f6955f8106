"""Bad input through the real CLI: exit code 2, a message naming the field or line, the value and the fix."""

import json

import pytest

AZURE_HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
ROW = "2023-11-16 18:17:03.9799600,4808,10\n"


def _assert_input_error(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "Fix:" in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


ANALYZE_CASES = {
    "unknown format": (
        "t.csv",
        AZURE_HEADER + ROW,
        ["--format", "parquet"],
        ["--format='parquet'", "unknown format"],
    ),
    "undetectable": (
        "notes.txt",
        "hello,world\n1,2\n",
        [],
        ["cannot tell the format", "azure-csv", "sharegpt-json"],
    ),
    "missing column": (
        "t.csv",
        "TIMESTAMP,ContextTokens\n2023-11-16 18:17:03.9799600,4808\n",
        ["--format", "azure-csv"],
        ["missing column 'GeneratedTokens'"],
    ),
    "non-numeric on line 3": (
        "t.csv",
        AZURE_HEADER + ROW + "2023-11-16 18:17:04.0000000,abc,10\n",
        [],
        ["t.csv line 3, ContextTokens='abc'", "not a whole number"],
    ),
    "bad timestamp on line 2": (
        "t.csv",
        AZURE_HEADER + "yesterday,10,10\n" + ROW,
        [],
        ["t.csv line 2, TIMESTAMP='yesterday'"],
    ),
    "empty file": ("t.csv", "", [], ["empty file"]),
    "header only": ("t.csv", AZURE_HEADER, [], ["no rows"]),
    "bad JSON on line 2": (
        "m.jsonl",
        '{"timestamp": 0, "input_length": 10, "output_length": 2, "hash_ids": [0]}\n{"timestamp": 5, "input_\n',
        [],
        ["m.jsonl line 2", "bad JSON"],
    ),
    "negative length": (
        "m.jsonl",
        '{"timestamp": 0, "input_length": -5, "output_length": 2, "hash_ids": []}\n',
        [],
        ["m.jsonl line 1, input_length=-5", "negative length"],
    ),
    "zero output": (
        "t.csv",
        AZURE_HEADER + "2023-11-16 18:17:03.9799600,10,0\n",
        [],
        ["line 2, GeneratedTokens=0"],
    ),
    "missing mooncake field": (
        "m.jsonl",
        '{"timestamp": 0, "input_length": 5}\n',
        ["--format", "mooncake-jsonl"],
        ["line 1, output_length", "missing field"],
    ),
    "too many hash ids": (
        "m.jsonl",
        '{"timestamp": 0, "input_length": 5, "output_length": 1, "hash_ids": [1, 2]}\n',
        [],
        ["line 1, hash_ids", "more hash ids than prompt blocks"],
    ),
    "canonical value out of range": (
        "w.jsonl",
        '{"request_id": "a", "arrival_s": 0, "prompt_tokens": 0, "output_tokens": 3}\n',
        [],
        ["w.jsonl line 1, prompt_tokens=0"],
    ),
    "mixed timestamps in a log": (
        "log.jsonl",
        json.dumps({"timestamp": 1, "prompt": "a", "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
        + "\n"
        + json.dumps({"prompt": "b", "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
        + "\n",
        [],
        ["log.jsonl line 2, timestamp", "every line a timestamp"],
    ),
    "log needs a tokenizer": (
        "log.jsonl",
        json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n",
        [],
        ["--tokenizer=None", "a tokenizer is needed"],
    ),
    "bad block size": ("t.csv", AZURE_HEADER + ROW, ["--block-size", "0"], ["--block-size=0"]),
    "bad cache size": ("t.csv", AZURE_HEADER + ROW, ["--cache-blocks", "-3"], ["--cache-blocks=-3"]),
}


@pytest.mark.parametrize("case", list(ANALYZE_CASES))
def test_analyze_bad_input(case, cli, write):
    name, text, extra, fragments = ANALYZE_CASES[case]
    path = write(name, text)
    _assert_input_error(cli("workload", "analyze", str(path), *extra), *fragments)


def test_sharegpt_without_tokenizer(cli, data_dir):
    result = cli("workload", "analyze", str(data_dir / "sharegpt_slice.json"))
    _assert_input_error(result, "--tokenizer=None", "pass --tokenizer")


def test_missing_file_and_missing_tokenizer(cli, data_dir, tmp_path):
    _assert_input_error(cli("workload", "analyze", str(tmp_path / "nope.csv")), "not found")
    result = cli(
        "workload", "analyze", str(data_dir / "sharegpt_slice.json"), "--tokenizer", str(tmp_path / "t.json")
    )
    _assert_input_error(result, "--tokenizer=", "file not found")


SYNTH_CASES = {
    "no source": ([], ["--preset/--profile=None", "give exactly one"]),
    "unknown preset": (["--preset", "chat"], ["--preset='chat'", "chatbot"]),
    "no size": (["--preset", "chatbot"], ["--duration/--num-requests"]),
    "both sizes": (["--preset", "chatbot", "--duration", "5", "--num-requests", "5"], ["give exactly one"]),
    "negative rate": (["--preset", "chatbot", "--num-requests", "5", "--rate", "-1"], ["--rate=-1.0"]),
    "zero requests": (["--preset", "chatbot", "--num-requests", "0"], ["--num-requests=0"]),
    "cv without gamma": (
        ["--preset", "chatbot", "--num-requests", "5", "--cv", "2"],
        ["--cv=2.0", "--arrival gamma"],
    ),
    "unknown arrival": (
        ["--preset", "chatbot", "--num-requests", "5", "--arrival", "weibull"],
        ["--arrival='weibull'"],
    ),
    "batch with duration": (
        ["--preset", "offline-batch", "--duration", "60"],
        ["--rate=None", "offline batch"],
    ),
}


@pytest.mark.parametrize("case", list(SYNTH_CASES))
def test_synth_bad_input(case, cli, tmp_path):
    args, fragments = SYNTH_CASES[case]
    result = cli("workload", "synth", *args, "--out", str(tmp_path / "w.jsonl"))
    _assert_input_error(result, *fragments)
    assert not (tmp_path / "w.jsonl").exists()


def test_synth_into_a_missing_folder_creates_it(cli, tmp_path):
    out = tmp_path / "no" / "w.jsonl"
    result = cli("workload", "synth", "--preset", "chatbot", "--num-requests", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert len(out.read_text().splitlines()) == 4  # header and three requests


def test_synth_under_a_file_is_refused_before_work(cli, tmp_path):
    (tmp_path / "f").write_text("x")
    result = cli(
        "workload",
        "synth",
        "--preset",
        "chatbot",
        "--num-requests",
        "3",
        "--out",
        str(tmp_path / "f" / "w.jsonl"),
    )
    _assert_input_error(result, "--out=", "is a file")
