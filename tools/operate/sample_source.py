"""Pack sample/ (or another directory) as the source.zip the default S3 source expects (Dockerfile at the zip's root).

    python tools/operate/sample_source.py [OUTPUT]   (default dist/source.zip)

The archive is deterministic: sorted entries with a fixed timestamp.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample"
FIXED_TIME = (2024, 1, 1, 0, 0, 0)


def pack(output: Path, source: Path = SAMPLE) -> list[str]:
    """Zip every file under ``source`` (paths relative to it) into ``output``; return the names."""
    output.parent.mkdir(parents=True, exist_ok=True)
    names = sorted(
        p.relative_to(source).as_posix()
        for p in source.rglob("*")
        if p.is_file() and not {"__pycache__", ".git"} & set(p.relative_to(source).parts)
    )
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, (source / name).read_bytes(), compress_type=zipfile.ZIP_DEFLATED)
    return names


def main(argv: list[str]) -> int:
    output = Path(argv[0]) if argv else ROOT / "dist" / "source.zip"
    names = pack(output)
    print(f"==> {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
