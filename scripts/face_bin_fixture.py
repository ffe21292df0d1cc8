"""InsightFace evaluation .bin files for test/data-face-pairs.test.ts and the CLI tests.

Usage: face_bin_fixture.py OUT_PREFIX ISSAME IMAGE...
ISSAME is a string of 1s and 0s, one per pair; the images are read as encoded bytes,
two per pair. Writes three files:
  OUT_PREFIX-py3.bin   pickle.dump((bins, issame), f, protocol=pickle.HIGHEST_PROTOCOL),
                       as a Python 3 tool writes one (bytes objects);
  OUT_PREFIX-py2.bin   the opcodes Python 2's pickle writes for the same tuple at
                       protocol 2 (str as SHORT_BINSTRING/BINSTRING, each memoised,
                       lists appended in batches of 1000), as InsightFace's own lfw.bin,
                       cfp_fp.bin and agedb_30.bin were written; checked by loading it
                       with pickle.loads(..., encoding='bytes') as verification.py does;
  OUT_PREFIX-evil.bin  a pickle whose loading would call os.system: readers must refuse it.
"""
import os
import pickle
import struct
import sys


def py2_protocol2(bins, issame):
    out = bytearray(b"\x80\x02")
    memo = 0

    def binput():
        nonlocal memo
        code = b"q" + bytes([memo]) if memo < 256 else b"r" + struct.pack("<I", memo)
        memo += 1
        return code

    out += b"]" + binput()
    for start in range(0, len(bins), 1000):
        out += b"("
        for item in bins[start:start + 1000]:
            out += (b"U" + bytes([len(item)]) if len(item) < 256 else b"T" + struct.pack("<i", len(item))) + item + binput()
        out += b"e"
    out += b"]" + binput()
    out += b"("
    for same in issame:
        out += b"\x88" if same else b"\x89"
    out += b"e"
    out += b"\x86" + binput() + b"."
    return bytes(out)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def main():
    prefix, flags, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    issame = [flag == "1" for flag in flags]
    assert len(files) == 2 * len(issame), "two images per pair"
    bins = []
    for path in files:
        with open(path, "rb") as f:
            bins.append(f.read())
    with open(prefix + "-py3.bin", "wb") as f:
        pickle.dump((bins, issame), f, protocol=pickle.HIGHEST_PROTOCOL)
    legacy = py2_protocol2(bins, issame)
    loaded_bins, loaded_issame = pickle.loads(legacy, encoding="bytes")
    assert loaded_bins == bins and loaded_issame == issame
    with open(prefix + "-py2.bin", "wb") as f:
        f.write(legacy)
    with open(prefix + "-evil.bin", "wb") as f:
        pickle.dump(([Evil()], [True]), f, protocol=2)


if __name__ == "__main__":
    main()
