"""Face-set pools: labelled still faces (FER2013, JAFFE, CK+48) through the device's own face path
(the vendored landmarker, then ``FrameFeatures`` with every visual feature), one pool file per set.

``edgemood face-pools [--root DIR] [--out DIR] [SET ...]`` writes
``OUT/<set>.npz`` (``edgemood.train.pools`` format; default OUT ``~/.cache/edgemood/pools``).
Each set folder holds ``labels.csv`` with ``path`` and ``label8`` (an edgemood emotion, or
``DROP(...)`` for a class edgemood has not). The images are research material: they are read
where they lie and never copied; the pools hold features only.

Small images (FER2013 and CK+48 are 48x48, the face filling the frame) are enlarged and given a
border before the landmarker: its detector wants a face smaller than the whole frame (measured
detection rates in benchmarks/research/README.md, "Face").
"""

from __future__ import annotations

import csv
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgemood.errors import InputError
from edgemood.labels import EMOTIONS
from edgemood.train.pools import Pool, save_pool
from edgemood.visual_features import ALL_VISUAL_FEATURES, FrameFeatures

SETS = ("fer2013", "jaffe", "ck48")
# $EDGEMOOD_FACE_SETS, else ../shared/face_sets beside the repository (the workstation layout).
DEFAULT_ROOT = Path(
    os.environ.get("EDGEMOOD_FACE_SETS")
    or Path(__file__).resolve().parents[2].parent / "shared" / "face_sets"
)
# Stills are enlarged (never shrunk) to at least this many pixels a side, then bordered by
# BORDER of their side on every edge, repeating the edge pixels.
MIN_SIDE = 192
BORDER = 0.25
LICENCES = {
    "fer2013": "FER2013 (Goodfellow et al. 2013, ICML 2013 challenge): research use; images not "
    "redistributed, features only",
    "jaffe": "JAFFE (Lyons et al. 1998): research use only, no redistribution; features only",
    "ck48": "CK+ (Lucey et al. 2010): research use only, no redistribution; features only",
}


@dataclass
class Still:
    """One labelled image of a face set."""

    path: Path
    label: str
    group: str
    split: str


def default_pool_dir() -> Path:
    """``$XDG_CACHE_HOME/edgemood/pools`` (``~/.cache/edgemood/pools``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edgemood" / "pools"


def read_labels(root: Path, name: str) -> tuple[list[Still], int]:
    """The usable images of one set and how many rows its labels.csv drops (no edgemood class).

    Group: the subject where the set names one (JAFFE: the file's 2-letter prefix; CK+48: the
    S### subject), else the image itself. Split: FER2013's train/test folder, else "".
    """
    folder = root / name
    stills, dropped = [], 0
    with open(folder / "labels.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            label = row["label8"]
            if label not in EMOTIONS:
                dropped += 1
                continue
            path = folder / row["path"]
            if name == "jaffe":
                group, split = path.name[:2], ""
            elif name == "ck48":
                group, split = row["subject"], ""
            else:
                group, split = path.stem, row["path"].split("/", 1)[0]
            stills.append(Still(path, label, group, split))
    return stills, dropped


def prepare_still(grey: np.ndarray, min_side: int = MIN_SIDE, border: float = BORDER) -> np.ndarray:
    """A still face as the landmarker wants it: BGR, at least ``min_side`` pixels, bordered."""
    import cv2

    height, width = grey.shape[:2]
    factor = max(1.0, min_side / min(height, width))
    if factor > 1:
        grey = cv2.resize(
            grey, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_CUBIC
        )
    pad = round(border * max(grey.shape[:2]))
    if pad:
        grey = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def still_features(
    grey: np.ndarray, landmarker, features: FrameFeatures, **prepare
) -> np.ndarray | None:
    """The features of the face in one grey still, or None when the landmarker finds none."""
    image = prepare_still(grey, **prepare)
    landmarker.reset()  # a still: never track from the previous image
    landmarks = landmarker(image)
    return None if landmarks is None else features(image, landmarks)


def build_pool(
    root: Path,
    name: str,
    landmarker=None,
    features: FrameFeatures | None = None,
    limit: int | None = None,
    log: Callable[[str], None] | None = None,
) -> Pool:
    """Extract one face set into a Pool (all of ``ALL_VISUAL_FEATURES``, in that order).

    Args:
        root: the folder holding the set folders.
        name: one of SETS.
        landmarker: a FaceLandmarker (default: a new one on one thread).
        features: a FrameFeatures over ALL_VISUAL_FEATURES (default: a new one).
        limit: take only the first ``limit`` usable images (for quick checks).
        log: progress lines.
    Returns:
        The pool; its meta counts images, faces found, images dropped and why.
    """
    import cv2

    from edgemood.face import FaceLandmarker

    if name not in SETS:
        raise ValueError(f"unknown face set {name!r} (choose from {', '.join(SETS)})")
    stills, dropped_label = read_labels(root, name)
    stills = stills[:limit] if limit else stills
    landmarker = landmarker or FaceLandmarker(threads=1)
    features = features or FrameFeatures(ALL_VISUAL_FEATURES, threads=1)
    if features.names != ALL_VISUAL_FEATURES:
        raise ValueError("a face-set pool holds every visual feature, in ALL_VISUAL_FEATURES order")
    rows, keep, unreadable, no_face = [], [], 0, 0
    clock = time.perf_counter()
    for i, still in enumerate(stills):
        grey = cv2.imread(str(still.path), cv2.IMREAD_GRAYSCALE) if still.path.is_file() else None
        if grey is None:
            unreadable += 1
            continue
        row = still_features(grey, landmarker, features)
        if row is None:
            no_face += 1
            continue
        rows.append(row)
        keep.append(still)
        if log and (i + 1) % 2000 == 0:
            log(f"{name}: {i + 1}/{len(stills)} images, {time.perf_counter() - clock:.0f} s")
    seconds = time.perf_counter() - clock
    looked = len(stills) - unreadable
    meta = {
        "modality": "visual",
        "source": name,
        "feature_names": list(ALL_VISUAL_FEATURES),
        "licence": LICENCES[name],
        "images": len(stills),
        "faces": len(keep),
        "dropped_no_face": no_face,
        "dropped_unreadable": unreadable,
        "dropped_label": dropped_label,
        "detection_rate": round(len(keep) / looked, 4) if looked else None,
        "prepare": {"min_side": MIN_SIDE, "border": BORDER},
        "seconds": round(seconds, 1),
    }
    pool = Pool(
        np.stack(rows) if rows else np.zeros((0, len(ALL_VISUAL_FEATURES)), np.float32),
        np.array([EMOTIONS.index(s.label) for s in keep], np.int64),
        np.array([s.group for s in keep], str),
        np.array([s.split for s in keep], str),
        meta,
    )
    return pool


def write_face_pools(
    names: Sequence[str],
    root: Path = DEFAULT_ROOT,
    out: Path | None = None,
    limit: int | None = None,
) -> None:
    """``edgemood face-pools``: extract the named sets into ``OUT/<set>.npz`` (default OUT
    ``default_pool_dir()``), a line on stdout per pool; ``limit``: first N images of each set.

    Raises:
        InputError: a set edgemood does not know, or a set folder without labels.csv (nothing is
            written then).
    """
    unknown = [s for s in names if s not in SETS]
    if unknown:
        raise InputError(f"unknown face set {unknown[0]!r} (choose from {', '.join(SETS)})")
    missing = [s for s in names if not (root / s / "labels.csv").is_file()]
    if missing:
        raise InputError(f"{root / missing[0]}: no labels.csv (is --root right?)")
    import cv2

    cv2.setNumThreads(1)  # one core: the machine is shared
    out = out or default_pool_dir()
    for name in names:
        pool = build_pool(root, name, limit=limit, log=lambda s: print(s, file=sys.stderr))
        path = out / f"{name}.npz"
        save_pool(path, pool)
        m = pool.meta
        print(
            f"{path}: {len(pool)} faces x {pool.features.shape[1]} features; "
            f"{m['dropped_no_face']} of {m['images']} images without a face "
            f"(detection {m['detection_rate']:.1%}), {m['dropped_label']} rows of no edgemood "
            f"class, {m['dropped_unreadable']} unreadable; {m['seconds']} s"
        )


if __name__ == "__main__":  # the tool moved: say where, rather than exit having done nothing
    raise SystemExit("python -m edgemood.train.face_sets is now `edgemood face-pools` (see --help)")
