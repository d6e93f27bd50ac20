"""A structural check of MATLAB v5 ``.mat`` files, run before scipy reads them.

scipy's compiled v5 reader trusts the element headers: one flipped bit in a variable's
array flags (the *complex* flag on an array stored without an imaginary part) makes
``scipy.io.loadmat`` read past its buffer and crash the interpreter (segmentation fault,
scipy 1.17, found by the mutated-file tests of issue 12). No exception can be caught
from that, so :func:`check_mat5` walks the element tree first and raises SourceError for
what would crash it or is plainly inconsistent: an element that overruns its parent, a
numeric array whose data size differs from its dimensions, a complex array without an
imaginary part, a compressed element that does not inflate.

The layout (MathWorks, "MAT-File Format", MATLAB 5): a 128-byte header (text, subsystem
offset, version 0x0100, endian indicator ``IM``); then data elements, each an 8-byte tag
(type, byte count; or the 4-byte "small element" form with the count in the upper 16
bits) and its data padded to 8 bytes. ``miMATRIX`` (14) holds array flags (class in the
low byte, flags complex 0x08 / global 0x04 / logical 0x02 in the next), dimensions,
name, then by class: numeric and char arrays a real and, when complex, an imaginary data
element; sparse arrays ir, jc, pr (pi); cells one ``miMATRIX`` per element; structs a
field-name length, the names and one ``miMATRIX`` per field and element; objects a class
name first. ``miCOMPRESSED`` (15) is a zlib stream of further elements.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from emgcorpus.errors import SourceError

MI_MATRIX, MI_COMPRESSED = 14, 15
#: bytes per value of each v5 data type
_TYPE_BYTES = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8, 16: 1, 17: 2, 18: 4}
_NUMERIC_CLASSES = set(range(6, 16)) | {4}  # double..uint64, and char
_CELL, _STRUCT, _OBJECT, _SPARSE = 1, 2, 3, 5
_COMPLEX = 0x08
#: nesting depth beyond which a file is refused (MATLAB files nest a few levels)
_MAX_DEPTH = 64


class _Bad(Exception):
    """A structural problem; turned into a SourceError naming the file."""


def check_mat5(path: Path) -> None:
    """SourceError naming ``path`` when its v5 element tree is inconsistent (see module);
    files that are not v5 (v4, v7.3/HDF5, foreign bytes) are left to scipy."""
    data = Path(path).read_bytes()
    if len(data) < 128 or data[126:128] not in (b"IM", b"MI") or data[:6] == b"\x89HDF\r\n":
        return
    endian = "<" if data[126:128] == b"IM" else ">"
    try:
        _elements(data, 128, len(data), endian, 0, top=True)
    except _Bad as exc:
        raise SourceError(path, f"not a consistent MATLAB v5 .mat file: {exc}") from None


def _tag(buf: bytes, pos: int, end: int, endian: str) -> tuple[int, int, int, int]:
    """(type, nbytes, data start, next element) of the element at ``pos``."""
    if pos + 8 > end:
        raise _Bad(f"element tag at byte {pos} runs past the end ({end})")
    first, second = struct.unpack_from(endian + "II", buf, pos)
    if first >> 16:  # small data element: count in the upper 16 bits, data in 4 bytes
        mtype, nbytes = first & 0xFFFF, first >> 16
        if nbytes > 4:
            raise _Bad(f"small element at byte {pos} claims {nbytes} bytes (at most 4)")
        return mtype, nbytes, pos + 4, pos + 8
    mtype, nbytes = first, second
    start = pos + 8
    stop = start + nbytes
    padded = stop if mtype == MI_COMPRESSED else start + (nbytes + 7) // 8 * 8
    if stop > end:
        raise _Bad(f"element at byte {pos} ({nbytes} bytes) overruns its container")
    return mtype, nbytes, start, min(padded, end)


def _elements(buf: bytes, pos: int, end: int, endian: str, depth: int, top: bool) -> int:
    """Check the elements in ``buf[pos:end]``; returns how many there were."""
    count = 0
    while pos < end:
        if top and end - pos < 8:
            break  # trailing padding
        mtype, nbytes, start, nxt = _tag(buf, pos, end, endian)
        if mtype == MI_COMPRESSED:
            try:
                inner = zlib.decompressobj().decompress(buf[start : start + nbytes])
            except zlib.error as exc:
                raise _Bad(f"compressed element at byte {pos} does not inflate ({exc})") from None
            _elements(inner, 0, len(inner), endian, depth + 1, top=True)
        elif mtype == MI_MATRIX:
            _matrix(buf, start, start + nbytes, endian, depth + 1)
        count += 1
        pos = nxt
    return count


def _matrix(buf: bytes, pos: int, end: int, endian: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise _Bad(f"arrays nested deeper than {_MAX_DEPTH} levels")
    if pos == end:
        return  # an empty miMATRIX (an empty cell element)
    mtype, nbytes, start, pos = _tag(buf, pos, end, endian)
    if mtype != 6 or nbytes != 8:
        raise _Bad(f"array flags at byte {start - 8} are not 8 uint32 bytes")
    flags_word = struct.unpack_from(endian + "I", buf, start)[0]
    cls, flags = flags_word & 0xFF, (flags_word >> 8) & 0xFF
    mtype, nbytes, start, pos = _tag(buf, pos, end, endian)
    if mtype != 5 or nbytes % 4:
        raise _Bad(f"dimensions at byte {start - 8} are not int32 values")
    dims = struct.unpack_from(endian + f"{nbytes // 4}i", buf, start)
    if any(d < 0 for d in dims):
        raise _Bad(f"negative dimension {dims}")
    n = 1
    for d in dims:
        n *= d
    _, _, _, pos = _tag(buf, pos, end, endian)  # array name
    if cls in _NUMERIC_CLASSES:
        parts = 0
        while pos < end:
            mtype, nbytes, start, pos = _tag(buf, pos, end, endian)
            size = _TYPE_BYTES.get(mtype)
            if size is None:
                raise _Bad(f"array data of unknown type {mtype}")
            if nbytes != n * size:
                raise _Bad(
                    f"array data of {nbytes} bytes for dimensions {dims} ({size}-byte values)"
                )
            parts += 1
        expected = 2 if flags & _COMPLEX else 1
        if parts != expected and not (n == 0 and parts == 0):
            kind = "complex" if flags & _COMPLEX else "real"
            raise _Bad(f"{kind} array with {parts} data part(s), expected {expected}")
    elif cls == _CELL:
        found = _elements(buf, pos, end, endian, depth, top=False)
        if found != n:
            raise _Bad(f"cell of dimensions {dims} holds {found} elements")
    elif cls in (_STRUCT, _OBJECT):
        if cls == _OBJECT:
            _, _, _, pos = _tag(buf, pos, end, endian)  # class name
        mtype, nbytes, start, pos = _tag(buf, pos, end, endian)  # field name length
        if nbytes != 4:
            raise _Bad("struct field-name length is not one int32")
        width = struct.unpack_from(endian + "i", buf, start)[0]
        mtype, nbytes, start, pos = _tag(buf, pos, end, endian)  # field names
        if width <= 0 or nbytes % width:
            raise _Bad(f"struct field names of {nbytes} bytes are not a multiple of {width}")
        found = _elements(buf, pos, end, endian, depth, top=False)
        if found != n * (nbytes // width):
            raise _Bad(f"struct of dimensions {dims} holds {found} field values")
    elif cls == _SPARSE:
        parts = _elements(buf, pos, end, endian, depth, top=False)
        if parts not in (3, 4):
            raise _Bad(f"sparse array with {parts} parts (expected ir, jc, pr[, pi])")
