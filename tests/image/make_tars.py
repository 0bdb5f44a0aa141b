#!/usr/bin/env python3
"""Write the archives test_image.c unpacks: one good image and one hostile
archive per attack on the extractor (README.md "Images" lists them).

usage: make_tars.py OUTDIR
"""
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

MTIME = 1400000000


def info(name, kind=tarfile.REGTYPE, size=0, mode=0o644, link=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = size
    ti.mode = mode
    ti.mtime = MTIME
    ti.linkname = link
    return ti


def add_file(tar, name, data=b"", mode=0o644):
    tar.addfile(info(name, size=len(data), mode=mode), io.BytesIO(data))


def add(tar, name, kind, link="", mode=0o644):
    tar.addfile(info(name, kind=kind, link=link, mode=mode))


def good(tar):
    add(tar, "./", tarfile.DIRTYPE, mode=0o755)
    add(tar, "bin", tarfile.DIRTYPE, mode=0o755)
    add_file(tar, "bin/prog", b"#!prog\n", mode=0o4755)  # setuid: dropped
    add_file(tar, "etc/motd", b"hello image\n", mode=0o2640)  # no dir entry
    add(tar, "tmp", tarfile.DIRTYPE, mode=0o1777)  # sticky: dropped
    add(tar, "bin/sh", tarfile.SYMTYPE, link="prog")
    add(tar, "escape", tarfile.SYMTYPE, link="../../../../etc")  # kept
    add(tar, "abs", tarfile.SYMTYPE, link="/etc/motd")
    add(tar, "etc/motd.hard", tarfile.LNKTYPE, link="etc/motd")
    add(tar, "bin", tarfile.DIRTYPE, mode=0o755)  # a repeated dir is fine
    add(tar, "dev/null", tarfile.CHRTYPE)  # skipped
    add(tar, "fifo", tarfile.FIFOTYPE)  # skipped


HOSTILE = {
    "dotdot.tar": lambda t: add_file(t, "../evil", b"x"),
    "dotdot-mid.tar": lambda t: add_file(t, "a/b/../../../evil", b"x"),
    "absolute.tar": lambda t: add_file(t, "/tmp/zerovm-image-evil", b"x"),
    # a symlink out, then a file through it
    "through-symlink.tar": lambda t: (
        add(t, "link", tarfile.SYMTYPE, link="../outside"),
        add_file(t, "link/evil", b"x")),
    # a symlink, then a regular file of the same name (would write
    # through the link if the extractor opened it)
    "replace-symlink.tar": lambda t: (
        add(t, "x", tarfile.SYMTYPE, link="../outside/victim"),
        add_file(t, "x", b"overwritten")),
    "hardlink-out.tar": lambda t: add(t, "h", tarfile.LNKTYPE,
                                      link="../outside/victim"),
    "hardlink-abs.tar": lambda t: add(t, "h", tarfile.LNKTYPE,
                                      link="/etc/passwd"),
    "hardlink-missing.tar": lambda t: add(t, "h", tarfile.LNKTYPE,
                                          link="nothing"),
    "hardlink-symlink.tar": lambda t: (
        add(t, "s", tarfile.SYMTYPE, link="/etc/passwd"),
        add(t, "h", tarfile.LNKTYPE, link="s")),
    "newline.tar": lambda t: add_file(t, "a\nb", b"x"),
    "duplicate.tar": lambda t: (add_file(t, "f", b"1"), add_file(t, "f", b"2")),
    "file-then-dir.tar": lambda t: (add_file(t, "d", b"1"),
                                    add(t, "d", tarfile.DIRTYPE)),
    "many.tar": lambda t: [add_file(t, "f%d" % i) for i in range(20)],
    "big.tar": lambda t: add_file(t, "big", b"z" * (2 << 20)),
    # the sandbox mounts its /tmp there: a link would redirect the mount
    "tmp-symlink.tar": lambda t: add(t, "tmp", tarfile.SYMTYPE,
                                     link="../outside"),
}


def huge(path):
    """A header that claims 100 GB and no data at all."""
    buf = info("huge", size=100 * 10**9).tobuf(tarfile.GNU_FORMAT)
    with open(path, "wb") as f:
        f.write(buf + b"\0" * 1024)


def sparse(out):
    """GNU sparse entries (GNU tar writes them; tarfile cannot): one of
    1 MiB + 1 byte with two bytes of data, one of 3 GiB with none."""
    tmp = tempfile.mkdtemp(dir=out)
    try:
        with open(os.path.join(tmp, "s"), "wb") as f:
            f.write(b"x")
            f.seek(1 << 20)
            f.write(b"y")
        with open(os.path.join(tmp, "h"), "wb") as f:
            f.truncate(3 << 30)
        for name, member in (("sparse.tar", "s"), ("sparse-huge.tar", "h")):
            subprocess.run(["tar", "--sparse", "--format=gnu", "-C", tmp,
                            "-cf", os.path.join(out, name), member],
                           check=True)
    finally:
        shutil.rmtree(tmp)


def nul_name(path):
    """A pax path with a NUL in it: C sees "a", the rest must not appear."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        ti = info("placeholder", size=1)
        ti.pax_headers = {"path": "a\0/../../evil"}
        t.addfile(ti, io.BytesIO(b"x"))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    with tarfile.open(os.path.join(out, "good.tar"), "w",
                      format=tarfile.GNU_FORMAT) as t:
        good(t)
    with tarfile.open(os.path.join(out, "good.tar.gz"), "w:gz",
                      format=tarfile.GNU_FORMAT) as t:
        good(t)
    for name, fill in HOSTILE.items():
        with tarfile.open(os.path.join(out, name), "w",
                          format=tarfile.GNU_FORMAT) as t:
            fill(t)
    huge(os.path.join(out, "huge.tar"))
    sparse(out)
    nul_name(os.path.join(out, "nul.tar"))
    with open(os.path.join(out, "garbage.tar"), "wb") as f:
        f.write(b"this is not an archive\n" * 100)


if __name__ == "__main__":
    main()
