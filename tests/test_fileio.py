"""Files tfsnn writes are replaced only when complete (tfsnn.fileio): a failure part-way
leaves the previous file byte-identical and no temporary file behind."""

from __future__ import annotations

import os
import stat
import zipfile

import numpy as np
import pytest

from tfsnn.fileio import atomic_path, atomic_write


def _listing(directory):
    return sorted(os.listdir(directory))


def test_success_replaces_the_file(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    with atomic_write(path, "w") as f:
        f.write("new ")
        assert path.read_text() == "old"  # nothing visible until the block ends
        f.write("content")
    assert path.read_text() == "new content"
    assert _listing(tmp_path) == ["f.txt"]


def test_failure_part_way_keeps_the_old_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"\x00previous\xff")
    with pytest.raises(OSError, match="No space"):
        with atomic_write(path) as f:
            f.write(b"x" * 100_000)
            raise OSError(28, "No space left on device")
    assert path.read_bytes() == b"\x00previous\xff"
    assert _listing(tmp_path) == ["f.bin"]


def test_failure_on_a_new_path_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "new.keras") as tmp:
            assert tmp.endswith(".keras") and os.path.dirname(tmp) == str(tmp_path)
            raise KeyboardInterrupt
    assert _listing(tmp_path) == []


def test_modes_new_file_from_umask_existing_file_kept(tmp_path):
    old = os.umask(0o027)
    try:
        with atomic_write(tmp_path / "new.txt", "w") as f:
            f.write("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.txt").st_mode) == 0o640
    path = tmp_path / "kept.txt"
    path.write_text("x")
    os.chmod(path, 0o604)
    with atomic_write(path, "w") as f:
        f.write("y")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o604


def test_symlink_target_is_replaced_and_the_link_kept(tmp_path):
    (tmp_path / "real.txt").write_text("old")
    os.symlink("real.txt", tmp_path / "link.txt")
    with atomic_write(tmp_path / "link.txt", "w") as f:
        f.write("new")
    assert os.path.islink(tmp_path / "link.txt")
    assert (tmp_path / "real.txt").read_text() == "new"


def test_special_files_are_written_in_place():
    with atomic_write(os.devnull) as f:  # cannot (and must not) be replaced by a rename
        f.write(b"discarded")
    assert os.path.exists(os.devnull) and not os.path.isfile(os.devnull)


def test_bad_mode_and_missing_directory_are_named(tmp_path):
    with pytest.raises(ValueError, match="mode 'w' or 'wb', got 'a'"):
        with atomic_write(tmp_path / "f", "a"):
            pass
    with pytest.raises(FileNotFoundError, match="no_such_dir"):
        with atomic_write(tmp_path / "no_such_dir" / "f"):
            pass


# --------------------------------------------------------------------------------------------
# snn.save


@pytest.fixture(scope="module")
def tiny_snn():
    import keras

    import tfsnn

    keras.utils.set_random_seed(0)
    ann = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                            keras.layers.Dense(2, activation="softmax")])
    return tfsnn.convert(ann, np.random.default_rng(0).random((16, 4)).astype("float32"))


def test_snn_save_failing_part_way_keeps_the_old_model(tmp_path, tiny_snn, monkeypatch):
    import tfsnn

    path = tmp_path / "snn.keras"
    tiny_snn.save(path)
    before = path.read_bytes()

    def disk_full(self, *args, **kwargs):  # the model is written, the metadata fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", disk_full)
    with pytest.raises(OSError, match="No space left"):
        tiny_snn.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _listing(tmp_path) == ["snn.keras"]
    loaded = tfsnn.load_snn(path)
    assert [s.name for s in loaded.specs] == [s.name for s in tiny_snn.specs]

    tiny_snn.save(tmp_path / "second.keras")  # success on a new path: nothing else left
    assert _listing(tmp_path) == ["second.keras", "snn.keras"]
