"""A few real files from the vendor corpus, one per kind of signal the bridges map."""

from __future__ import annotations

from pathlib import Path

#: (folder, file name) of small corpus files: spectra, images, a spectrum image, a stack
CORPUS = (
    ("dm", "test-EELS_spectrum.dm3"),
    ("dm", "test-EDS_spectrum.dm3"),
    ("dm", "test_STEM_image.dm3"),
    ("dm", "test_diffraction_pattern.dm3"),
    ("dm", "2D_test-3_complex64.dm3"),
    ("dm", "2D_test-14_bool.dm3"),
    ("dm", "DMReader_SpectrumImage_SI-EELS.dm3"),
    ("dm", "3D_test-1_int16.dm3"),
    ("msa", None),
)


def corpus_files(shared_data: Path) -> list[Path]:
    """The corpus files present (the first file of a folder when the name is None)."""
    found = []
    for folder, name in CORPUS:
        base = shared_data / "vendor" / folder
        if not base.is_dir():
            continue
        if name is None:
            files = sorted(p for p in base.iterdir() if p.is_file())
            found.extend(files[:1])
        elif (base / name).is_file():
            found.append(base / name)
    return found
