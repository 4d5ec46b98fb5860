"""Build the standard offline datasets into a temporary folder and measure them; write
``docs/data/offline_datasets.json``, whose tables ``docs/datasets.md`` shows.

    python docs/scripts/offline_datasets.py

Per standard dataset: the time to collect and write it, its episodes, steps, size on disk, content
hash, and the time to read it back as arrays (hash checked; image frames drawn). For the two image
datasets, what the same frames would take stored otherwise: raw (Minari with
``jpeg_encoding=False``), PNG (lossless, PIL's default level) with its decoding time, and JPEG
(Minari's default, PIL quality 75) with its largest pixel error.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from baselines.offline.datasets import dataset_info, iter_episode_arrays, load_offline_dataset  # noqa: E402
from baselines.offline.standard import STANDARD_DATASETS, build_standard  # noqa: E402
from benchmarks import data_record  # noqa: E402

DATA = ROOT / "docs" / "data" / "offline_datasets.json"


def _folder_bytes(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def _image_storage(frames: list[np.ndarray]) -> dict:
    """Sizes of the frames stored raw, as PNG and as JPEG; PNG decoding time; JPEG's pixel error."""
    png, jpeg = [], []
    for frame in frames:
        for store, fmt in ((png, "PNG"), (jpeg, "JPEG")):
            buffer = io.BytesIO()
            Image.fromarray(frame).save(buffer, format=fmt)
            store.append(buffer.getvalue())
    start = time.perf_counter()
    for data in png:
        np.asarray(Image.open(io.BytesIO(data)))
    png_decode = time.perf_counter() - start
    jpeg_error = max(
        int(np.abs(np.asarray(Image.open(io.BytesIO(data)), dtype=np.int16) - frame).max())
        for data, frame in zip(jpeg, frames)
    )
    return {
        "frames": len(frames),
        "raw_bytes": int(sum(frame.nbytes for frame in frames)),
        "png_bytes": sum(map(len, png)),
        "png_decode_s": png_decode,
        "jpeg_bytes": sum(map(len, jpeg)),
        "jpeg_max_pixel_error": jpeg_error,
    }


def measure() -> dict:
    rows, images = [], {}
    total_start = time.perf_counter()
    times: dict[str, float] = {}
    build_standard(
        progress=lambda standard, dataset, seconds: times.__setitem__(standard.dataset_id, seconds)
    )
    total = time.perf_counter() - total_start
    for standard in STANDARD_DATASETS:
        start = time.perf_counter()
        dataset = load_offline_dataset(standard.dataset_id, verify=False)
        episodes = list(iter_episode_arrays(dataset, check_hash=True))
        load = time.perf_counter() - start
        rows.append(
            {
                "name": standard.name,
                "dataset_id": standard.dataset_id,
                "episodes": standard.episodes,
                "seed": standard.seed,
                "steps": int(dataset.total_steps),
                "mean_return": float(np.mean([episode.rewards.sum() for episode in episodes])),
                "bytes": _folder_bytes(Path(os.environ["MINARI_DATASETS_PATH"]) / standard.dataset_id),
                "content_hash": dataset_info(dataset)["content_hash"],
                "build_s": times[standard.dataset_id],
                "load_s": load,
            }
        )
        if standard.obs_mode == "image":
            images[standard.dataset_id] = _image_storage([f for e in episodes for f in e.observations])
    return {"standard": rows, "build_total_s": total, "image_storage": images}


def _mb(value: float) -> str:
    return f"{value / 1e6:.1f} MB"


def registry_table(data: dict) -> str:
    lines = [
        "| dataset id | episodes | seed | steps | mean return | on disk | build | read back |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in data["standard"]:
        lines.append(
            f"| `{row['dataset_id']}` | {row['episodes']:,} | {row['seed']:,} | {row['steps']:,} | "
            f"{row['mean_return']:.3f} | {_mb(row['bytes'])} | {row['build_s']:.1f} s | {row['load_s']:.1f} s |"
        )
    return "\n".join(lines)


def image_table(data: dict) -> str:
    lines = [
        "| dataset | frames | frame states (ours) | raw frames | PNG (lossless) | JPEG (Minari's default) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    by_id = {row["dataset_id"]: row for row in data["standard"]}
    for dataset_id, image in data["image_storage"].items():
        row = by_id[dataset_id]
        lines.append(
            f"| `{dataset_id}` | {image['frames']:,} | {_mb(row['bytes'])}, read and drawn in {row['load_s']:.1f} s | "
            f"{_mb(image['raw_bytes'])} | {_mb(image['png_bytes'])}, decoded in {image['png_decode_s']:.1f} s | "
            f"{_mb(image['jpeg_bytes'])}, pixels off by up to {image['jpeg_max_pixel_error']} |"
        )
    return "\n".join(lines)


def measured_note(data: dict) -> str:
    machine = data["provenance"]["machine"]
    load = machine.get("load_average_1_5_15_min", ["?"])[0]
    return (
        f"Measured by `docs/scripts/offline_datasets.py` on {machine['cpu_count']} CPU cores "
        f"(load average {load} at the start): all standard datasets built in "
        f"{data['build_total_s']:.0f} s."
    )


def main() -> None:
    started = data_record.provenance("docs/scripts/offline_datasets.py")
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MINARI_DATASETS_PATH"] = folder
        measured = measure()
    data_record.write(DATA, started, measured)
    record = data_record.read(DATA)
    print(registry_table(record), image_table(record), measured_note(record), sep="\n\n")


if __name__ == "__main__":
    main()
