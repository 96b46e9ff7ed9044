#!/usr/bin/env python3
"""Writes the tiny IDX and PGM fixtures in this folder, good and deliberately broken,
that tests/unit/test_idx.cpp reads. Run from anywhere: python3 tests/data/make_fixtures.py
The good image file holds 3 images of 4x5 with pixel i = (4*i) % 256; labels are 7 0 9."""
import gzip
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


def header(magic, *dims):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims)


def gz(data):
    # mtime=0 keeps the bytes the same from run to run, so the files diff cleanly.
    return gzip.compress(data, compresslevel=9, mtime=0)


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


PIXELS = bytes((4 * i) % 256 for i in range(3 * 4 * 5))
IMAGES = header(IMAGES_MAGIC, 3, 4, 5) + PIXELS
LABELS = header(LABELS_MAGIC, 3) + bytes([7, 0, 9])


def main():
    write("images-ok-idx3-ubyte", IMAGES)
    write("images-ok-idx3-ubyte.gz", gz(IMAGES))
    write("labels-ok-idx1-ubyte", LABELS)
    write("labels-ok-idx1-ubyte.gz", gz(LABELS))
    # Two gzip members back to back (what `cat a.gz b.gz` makes) is valid gzip.
    write("images-multimember-idx3-ubyte.gz", gz(IMAGES[:30]) + gz(IMAGES[30:]))

    # Broken headers.
    write("bad-magic-idx3-ubyte", header(LABELS_MAGIC, 3) + PIXELS)  # a labels magic
    write("not-idx.png", b"\x89PNG\r\n\x1a\n" + bytes(24))
    write("float-idx3-ubyte", header(0x00000D03, 3, 4, 5) + bytes(240))
    write("rank2-idx3-ubyte", header(0x00000802, 3, 20) + PIXELS)
    write("zero-dim-idx3-ubyte", header(IMAGES_MAGIC, 0, 28, 28))
    write("truncated-header-idx3-ubyte", header(IMAGES_MAGIC, 3)[:6])
    # 0xFFFFFFFF x 0xFFFFFFFF x 1 bytes declared, none present: must be refused unread.
    write("huge-idx3-ubyte", header(IMAGES_MAGIC, 0xFFFFFFFF, 0xFFFFFFFF, 1) + bytes(8))

    # Broken payloads.
    write("truncated-idx3-ubyte", IMAGES[:16 + 10])
    write("trailing-idx3-ubyte", IMAGES + bytes(12))
    write("trailing-idx3-ubyte.gz", gz(IMAGES + bytes(12)))
    write("labels-short-idx1-ubyte", header(LABELS_MAGIC, 2) + bytes([1, 2]))
    write("labels-range-idx1-ubyte", header(LABELS_MAGIC, 8) + bytes([0, 1, 2, 3, 4, 11, 6, 7]))

    # Broken gzip.
    good = gz(IMAGES)
    # Keep the 10-byte gzip header, replace the deflate data: 0xFF starts a block of the
    # reserved type 3, which zlib reports as "invalid block type".
    write("corrupt-idx3-ubyte.gz", good[:10] + b"\xff" * 40)
    write("truncated-gzip-idx3-ubyte.gz", good[:-10])
    write("garbage-after-gzip-idx3-ubyte.gz", good + b"JUNK!!")

    # PGM: 4x3 binary with a comment; 3x2 ASCII with maxval 7 (255/7 is not whole, so
    # scaling must round) and comments everywhere in the header.
    p5_pixels = bytes([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 255])
    write("digit-p5.pgm", b"P5\n# made by make_fixtures.py\n4 3\n255\n" + p5_pixels)
    write("digit-p2.pgm", b"P2 # ascii\n3 # width\n2\n# maxval next\n7\n0 1 2\n3 6 7\n")
    write("truncated-p5.pgm", b"P5\n4 3\n255\n" + p5_pixels[:5])
    write("maxval16-p5.pgm", b"P5\n2 1\n65535\n" + bytes(4))


if __name__ == "__main__":
    main()
