"""tests/validation/physionet_files.py: the .psv files of PhysioNet/CinC 2019 stays, from
folders of them or .tar.xz archives of them (the independent check and
scripts/validation-report read the same stays)."""
import os
import subprocess


def stay_files(sources, scratch, limit=None):
    """The .psv files of `sources` (folders, or .tar.xz archives unpacked into `scratch` by
    tar: Python's tarfile would decompress an xz stream again for each member read out of
    archive order), in name order; the first `limit` when given."""
    files = []
    for n, source in enumerate(sources):
        if source.endswith(".tar.xz"):
            into = os.path.join(scratch, f"archive{n}")
            os.mkdir(into)
            subprocess.run(["tar", "-xJf", source, "-C", into], check=True)
            for folder, _, names in os.walk(into):
                files += [os.path.join(folder, name) for name in names if name.endswith(".psv")]
        else:
            files += [os.path.join(source, name) for name in os.listdir(source) if name.endswith(".psv")]
    files.sort(key=os.path.basename)
    return files[:limit] if limit is not None else files
