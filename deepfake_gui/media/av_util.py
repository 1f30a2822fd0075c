"""Opening containers with PyAV and turning FFmpeg's terse errors into sentences.

FFmpeg guesses formats from content *and* extension, so it will "open" a text file
as ANSI art (tty demuxer) or random bytes named ``.aac`` as ADTS audio, and it
reports a cut-off MP4 as plain "Invalid data". The helpers here sniff the first
bytes themselves so the user gets the real cause: not media, or truncated.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deepfake_gui.core.errors import MediaError

HEAD_BYTES = 4096
# Top-level ISO-BMFF (MP4/MOV/M4A/3GP) box types a file may start with.
_ISO_FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp"}
_ISO_LABELS = {"mov": "MOV", "m4a": "M4A", "m4v": "M4V", "3gp": "3GP", "3g2": "3G2"}
# Demuxers FFmpeg picks for things that are not audio/video recordings.
_NON_MEDIA_FORMATS = {"tty"}


def check_file(path: str | Path) -> int:
    """Size of a readable regular file, or a MediaError saying why it cannot be one.

    Run before Pillow/FFmpeg so "no such file" and "empty file" are not reported
    as "not an image" or "invalid data".
    """
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise MediaError(path, "cannot open", "no such file", "unreadable") from exc
    except OSError as exc:
        raise MediaError(path, "cannot open", exc.strerror or str(exc), "unreadable") from exc
    if not stat.S_ISREG(st.st_mode):
        raise MediaError(path, "cannot open", "not a regular file", "unsupported")
    if st.st_size == 0:
        raise MediaError(path, "empty file", "0 bytes", "empty")
    if not os.access(path, os.R_OK):
        raise MediaError(path, "cannot open", "permission denied", "unreadable")
    return st.st_size


def read_head(path: str | Path, n: int = HEAD_BYTES) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError:
        return b""


def looks_like_text(head: bytes) -> bool:
    """True for UTF-8/ASCII text (notes, playlists, subtitles): no NULs, ≥95 % printable."""
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # invalid in the middle, not a multibyte char cut at the end
            return False
        text = head[: exc.start].decode("utf-8")
    if not text:
        return False
    printable = sum(ch.isprintable() or ch in "\t\n\r\f\v\x1b" for ch in text)
    return printable >= 0.95 * len(text)


def is_iso_bmff(head: bytes) -> bool:
    return len(head) >= 8 and head[4:8] in _ISO_FIRST_BOXES


def container_label(path: str | Path, head: bytes) -> str | None:
    """A short name for a container recognised by its magic bytes, else None."""
    if is_iso_bmff(head):
        return _ISO_LABELS.get(Path(path).suffix.lower().lstrip("."), "MP4")
    if head.startswith(b"RIFF") and len(head) >= 12:
        return {b"WAVE": "WAV", b"AVI ": "AVI", b"WEBP": "WebP"}.get(head[8:12], "RIFF")
    magics = (
        (b"OggS", "Ogg"),
        (b"fLaC", "FLAC"),
        (b"ID3", "MP3"),
        (b"\x1a\x45\xdf\xa3", "Matroska/WebM"),
        (b"FORM", "AIFF"),
        (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "ASF/WMV"),
        (b"FLV", "FLV"),
        (b"#!AMR", "AMR"),
        (b"caff", "CAF"),
        (b"\x00\x00\x01\xba", "MPEG-PS"),
    )
    for magic, label in magics:
        if head.startswith(magic):
            return label
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "MPEG-TS"
    return None


def iso_bmff_problem(path: str | Path) -> str | None:
    """Why an MP4-family file is structurally incomplete, or None if it looks whole.

    Walks the top-level boxes (cheap: a few seeks). A recording cut short either has
    no ``moov`` (it is written last by default) or a box that runs past end of file.
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            if not is_iso_bmff(fh.read(8)):
                return None
            pos, seen_moov = 0, False
            while pos + 8 <= size:
                fh.seek(pos)
                header = fh.read(16)
                box_size, kind = struct.unpack(">I4s", header[:8])
                if box_size == 1 and len(header) >= 16:
                    box_size = struct.unpack(">Q", header[8:16])[0]
                elif box_size == 0:
                    box_size = size - pos
                if not all(0x20 <= b < 0x7F for b in kind) or box_size < 8:
                    break  # trailing padding or junk after the last box, not a cut
                if pos + box_size > size:
                    if not seen_moov:
                        break  # the usual case: cut inside mdat (or moov), moov is incomplete
                    name = kind.decode("latin-1")
                    return (
                        f"the {name!r} box needs {box_size} bytes from byte {pos} "
                        f"but the file ends after {size} (the file was cut short)"
                    )
                seen_moov = seen_moov or kind == b"moov"
                pos += box_size
    except OSError:
        return None
    if not seen_moov:
        return "no moov atom (the file was cut short)"
    return None


def riff_problem(path: str | Path, head: bytes) -> str | None:
    """A WAV/AVI cut short: the RIFF header states the full size (unless streamed: 0 / 0xFFFFFFFF)."""
    if not head.startswith(b"RIFF") or len(head) < 12:
        return None
    declared = struct.unpack("<I", head[4:8])[0]
    if declared in (0, 0xFFFFFFFF):
        return None
    try:
        size = os.path.getsize(path)
    except OSError:
        return None
    if declared + 8 > size:
        return f"the RIFF header promises {declared + 8} bytes but the file has {size} (the file was cut short)"
    return None


def structure_problem(path: str | Path, head: bytes) -> str | None:
    """Container-level evidence of truncation that FFmpeg would silently decode past."""
    if is_iso_bmff(head):
        return iso_bmff_problem(path)
    return riff_problem(path, head)


def explain_av_error(path: str | Path, exc: BaseException, *, opened: bool = False) -> MediaError:
    """Map an FFmpeg failure to a MediaError whose message says what is wrong with the file.

    ``opened`` means the container was parsed, so a later failure is damage inside a
    real media file rather than a file that was never media.
    """
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    lowered = text.lower()
    head = read_head(path)
    if looks_like_text(head):
        return MediaError(path, "not a media file", "it is a text file", "not-media")
    label = container_label(path, head)
    problem = structure_problem(path, head)
    if problem is not None:
        return MediaError(path, f"truncated {label}", problem, "truncated")
    if "moov atom not found" in lowered:
        return MediaError(path, f"truncated {label or 'MP4'}", "no moov atom (the file was cut short)",
                          "truncated")
    eof_like = isinstance(exc, EOFError) or "end of file" in lowered or "truncat" in lowered
    if label is None and not opened:
        return MediaError(
            path, "not a media file", f"FFmpeg found no decodable audio or video ({text})", "not-media"
        )
    if eof_like:
        return MediaError(path, f"truncated {label or 'file'}", f"the data ends early ({text})", "truncated")
    return MediaError(path, f"cannot decode {label or 'file'}", f"corrupt data ({text})", "unreadable")


@contextmanager
def open_container(path: str | Path) -> Iterator[object]:
    """av.open with text files refused up front (FFmpeg would read them as ANSI art)."""
    import av

    check_file(path)
    if looks_like_text(read_head(path)):
        raise MediaError(path, "not a media file", "it is a text file", "not-media")
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError, EOFError, UnicodeDecodeError) as exc:
        raise explain_av_error(path, exc) from exc
    try:
        fmt = container.format.name if container.format else ""
        if fmt in _NON_MEDIA_FORMATS:
            raise MediaError(path, "not a media file", f"FFmpeg only guessed {fmt!r} from the name", "not-media")
        yield container
    finally:
        container.close()


def is_attached_picture(stream) -> bool:
    """Cover art in MP3/M4A/FLAC is a one-frame 'video' stream flagged attached_pic."""
    import av

    try:
        return bool(stream.disposition & av.stream.Disposition.attached_pic)
    except (AttributeError, TypeError):
        return False


def real_video_streams(container) -> list:
    """Video streams that are moving pictures, not MP3/M4A cover art."""
    return [s for s in container.streams.video if not is_attached_picture(s)]


def audio_channels(stream) -> int | None:
    """Channel count via the channel layout (PyAV ≥ 13; ``channels`` is the legacy alias)."""
    ctx = stream.codec_context
    layout = getattr(ctx, "layout", None)
    n = getattr(layout, "nb_channels", None) if layout is not None else None
    return int(n) if n else (int(getattr(ctx, "channels", 0) or 0) or None)


def codec_name(stream) -> str:
    """FFmpeg's codec id name ("mp3"), not the decoder's ("mp3float")."""
    ctx = stream.codec_context
    codec = getattr(ctx, "codec", None)
    return getattr(codec, "canonical_name", None) or ctx.name
