"""EXIF, XMP, ICC, IPTC and text chunks of a still image, read with Pillow without decoding pixels.

PNG text chunks are read by a small chunk walker instead of Pillow: Pillow stops
at the first IDAT (text written after the pixels is missed) and refuses the
whole file when one compressed chunk is too large, and generator metadata is
exactly what a forger would make awkward. Every step records its own error, so
a corrupt EXIF block does not hide the ICC profile or the text chunks.

Pillow covers what the summary needs (camera make/model, software, capture
time, GPS presence, XMP, ICC description), so exifread is not used.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from pathlib import Path
from typing import Any

from deepfake_gui.provenance._text import clip, to_text
from deepfake_gui.provenance.fingerprints import Field, xmp_fields

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_VALUE_CAP = 256 * 1024  # characters kept per text chunk (plenty to fingerprint it)
MAX_COMPRESSED_CHUNK = 32 * 1024 * 1024  # larger zTXt/iTXt chunks are skipped, not inflated
MAX_CHUNKS = 200_000
XMP_CAP = 1024 * 1024

# EXIF tags of IFD0 and of the Exif sub-IFD that the summary and the hints use.
_IFD0 = {0x010F: "Make", 0x0110: "Model", 0x0131: "Software", 0x0132: "DateTime",
         0x010E: "ImageDescription", 0x013B: "Artist", 0x8298: "Copyright"}
_EXIF_IFD = {0x9003: "DateTimeOriginal", 0x9286: "UserComment", 0xA434: "LensModel"}
_EXIF_IFD_TAG, _GPS_IFD_TAG, _XMP_TAG = 0x8769, 0x8825, 0x02BC
# IPTC-IIM (record, dataset) -> name, for the software hint.
_IPTC = {(2, 65): "OriginatingProgram", (2, 80): "Byline", (2, 116): "Copyright"}
# Summary key -> the EXIF field it comes from (first present wins).
_SUMMARY_EXIF = {"camera_make": ("Make",), "camera_model": ("Model",), "lens_model": ("LensModel",),
                 "software": ("Software",), "datetime_original": ("DateTimeOriginal", "DateTime")}


# --- PNG text chunks -----------------------------------------------------------------


def read_png_chunks(path: str | Path) -> tuple[list[tuple[str, str]], bytes | None, list[str]]:
    """(keyword, text) of every tEXt/zTXt/iTXt chunk in file order, the eXIf payload, and the errors met.

    Bounded: values are cut at TEXT_VALUE_CAP characters, inflation stops there, and
    a chunk running past end of file ends the walk with an error instead of raising.
    """
    chunks: list[tuple[str, str]] = []
    exif: bytes | None = None
    errors: list[str] = []
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if fh.read(8) != PNG_SIGNATURE:
            return chunks, exif, errors
        for _ in range(MAX_CHUNKS):
            header = fh.read(8)
            if len(header) < 8:
                errors.append("PNG ends without an IEND chunk (truncated)")
                break
            length, kind = struct.unpack(">I4s", header)
            start = fh.tell()
            if kind == b"IEND":
                break
            if start + length + 4 > size:
                errors.append(f"the {kind.decode('latin-1')!r} chunk runs past end of file (truncated)")
                break
            if kind in (b"tEXt", b"zTXt", b"iTXt"):
                if kind != b"tEXt" and length > MAX_COMPRESSED_CHUNK:
                    errors.append(f"skipped a {length}-byte {kind.decode()} chunk (too large to inflate)")
                else:
                    data = fh.read(length if kind != b"tEXt" else min(length, TEXT_VALUE_CAP + 80))
                    try:
                        chunks.append(_decode_text_chunk(kind, data))
                    except (ValueError, zlib.error) as exc:
                        errors.append(f"unreadable {kind.decode()} chunk: {exc}")
            elif kind == b"eXIf" and exif is None and length <= MAX_COMPRESSED_CHUNK:
                exif = fh.read(length)
            fh.seek(start + length + 4)  # data + CRC
    return chunks, exif, errors


def _inflate(data: bytes) -> bytes:
    return zlib.decompressobj().decompress(data, TEXT_VALUE_CAP * 4)


def _decode_text_chunk(kind: bytes, data: bytes) -> tuple[str, str]:
    keyword, sep, rest = data.partition(b"\x00")
    if not sep or not keyword:
        raise ValueError("no keyword")
    if kind == b"tEXt":
        text = rest.decode("latin-1")
    elif kind == b"zTXt":  # compression method byte, then zlib data of latin-1 text
        text = _inflate(rest[1:]).decode("latin-1")
    else:  # iTXt: compression flag, method, language\0, translated keyword\0, UTF-8 text
        if len(rest) < 2:
            raise ValueError("iTXt chunk too short")
        compressed = rest[0] == 1
        _lang, _, after_lang = rest[2:].partition(b"\x00")
        _tkey, _, body = after_lang.partition(b"\x00")
        text = (_inflate(body) if compressed else body).decode("utf-8", errors="replace")
    return keyword.decode("latin-1"), text[:TEXT_VALUE_CAP]


# --- Pillow: EXIF, XMP, ICC, IPTC ------------------------------------------------------


def _load_exif(im, png_exif: bytes | None):
    """The image's EXIF without decoding pixels (PngImageFile.getexif() loads the whole image)."""
    from PIL import Image

    if im.format == "PNG":
        exif = Image.Exif()
        if png_exif:
            exif.load(png_exif)
        return exif
    return im.getexif()


def _exif_fields(im, png_exif: bytes | None, meta: dict[str, Any], fields: list[Field], errors: list[str]) -> Any:
    """Fill the EXIF part of the summary and the fields; returns the XMP packet stored in EXIF, if any."""
    xmp = None
    try:
        exif = _load_exif(im, png_exif)
    except Exception as exc:  # corrupt EXIF raises many types inside Pillow
        errors.append(f"EXIF unreadable: {exc}")
        return xmp
    values: dict[str, Any] = {}
    raw = png_exif if im.format == "PNG" else im.info.get("exif")
    if raw and len(raw) > 14 and len(exif) == 0:  # Pillow drops a corrupt EXIF block silently
        errors.append(f"EXIF block of {len(raw)} bytes present but unparseable (corrupt or truncated)")
    try:
        meta["exif_present"] = len(exif) > 0
        values.update({name: exif[tag] for tag, name in _IFD0.items() if tag in exif})
        if _EXIF_IFD_TAG in exif:
            sub = exif.get_ifd(_EXIF_IFD_TAG)
            values.update({name: sub[tag] for tag, name in _EXIF_IFD.items() if tag in sub})
        meta["gps_present"] = bool(exif.get_ifd(_GPS_IFD_TAG)) if _GPS_IFD_TAG in exif else False
        xmp = exif.get(_XMP_TAG)
    except Exception as exc:
        errors.append(f"EXIF partly unreadable: {exc}")
    for summary_key, names in _SUMMARY_EXIF.items():
        found = next((values[n] for n in names if n in values and to_text(values[n])), None)
        if found is not None:
            meta[summary_key] = clip(found)
    fields.extend(Field(f"exif:{name}", to_text(value)) for name, value in values.items())
    return xmp


def _icc_description(icc: bytes, errors: list[str]) -> str | None:
    try:
        from PIL import ImageCms

        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return clip(ImageCms.getProfileDescription(profile)) or None
    except Exception as exc:  # ImageCms raises PyCMSError/OSError on a corrupt profile
        errors.append(f"ICC profile unreadable: {exc}")
        return None


def _iptc_fields(im, meta: dict[str, Any], fields: list[Field]) -> None:
    from PIL import IptcImagePlugin

    iptc = IptcImagePlugin.getiptcinfo(im) or {}
    meta["iptc_present"] = bool(iptc)
    for key, name in _IPTC.items():
        if key in iptc:
            fields.append(Field(f"iptc:{name}", to_text(iptc[key])))


def _xmp_packet(im, exif_xmp: Any) -> str | None:
    raw = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp") or exif_xmp
    tiff_tags = getattr(im, "tag_v2", None)
    if not raw and tiff_tags is not None:
        raw = tiff_tags.get(_XMP_TAG)
    if not raw:
        return None
    return to_text(raw[:XMP_CAP] if isinstance(raw, bytes | str) else raw)


def read_image_metadata(path: str | Path) -> tuple[dict[str, Any], list[Field]]:
    """(summary, fields): the compact metadata summary and every value the hints inspect.

    The summary never holds GPS coordinates or long texts (only ``gps_present`` and
    the names of the text chunks); errors are listed under ``errors``.
    """
    from PIL import Image, UnidentifiedImageError

    meta: dict[str, Any] = {"kind": "image", "errors": []}
    errors: list[str] = meta["errors"]
    fields: list[Field] = []
    try:
        chunks, png_exif, png_errors = read_png_chunks(path)
    except OSError:  # unreadable file: Pillow's open below reports the same error once
        chunks, png_exif, png_errors = [], None, []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about corrupt EXIF; we record errors instead
            with Image.open(path) as im:
                meta.update(format=im.format, mode=im.mode, width=im.size[0], height=im.size[1])
                exif_xmp = _exif_fields(im, png_exif, meta, fields, errors)
                icc = im.info.get("icc_profile")
                meta["icc_profile"] = _icc_description(icc, errors) if icc else None
                xmp = _xmp_packet(im, exif_xmp)
                meta["xmp_present"] = xmp is not None
                if xmp:
                    fields.extend(xmp_fields(xmp))
                    tool = next((f.value for f in fields if f.source == "xmp:CreatorTool" and f.value), None)
                    if tool:
                        meta["xmp_creator_tool"] = clip(tool)
                try:
                    _iptc_fields(im, meta, fields)
                except Exception as exc:
                    errors.append(f"IPTC unreadable: {exc}")
                for key in ("comment", "Comment", "Description"):
                    value = im.info.get(key)
                    if value and im.format != "PNG":
                        fields.append(Field(f"{(im.format or 'image').lower()}:{key}", to_text(value)))
    except UnidentifiedImageError:
        errors.append("not an image Pillow recognises")
    except Exception as exc:  # truncated headers, bombs, Pillow internals on hostile input
        errors.append(f"image metadata unreadable: {type(exc).__name__}: {exc}")
    errors.extend(png_errors)
    if chunks:
        meta["png_text_keys"] = sorted({k for k, _ in chunks})
        for key, text in chunks:
            if key == "XML:com.adobe.xmp":
                if not meta.get("xmp_present"):
                    meta["xmp_present"] = True
                    fields.extend(xmp_fields(text))
                continue
            fields.append(Field(f"png:{key}", text))
    return meta, fields
