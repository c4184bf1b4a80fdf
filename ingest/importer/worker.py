"""Read one file once: its hash, its facts, its image header; store its original and derivatives.

This is the CPU-heavy stage that runs in worker processes. It takes and returns plain data, and
never raises for a bad file: what went wrong comes back as a problem naming the file.
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import os
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ingest.errors import FileProblem, MetadataProblem
from ingest.importer.read.exif import read_exif, read_exif_pillow, read_exif_tags
from ingest.importer.read.iptc import read_iptc
from ingest.importer.read.names import read_names
from ingest.importer.read.png import read_png_text
from ingest.importer.read.xmp import read_sidecar, read_xmp
from ingest.media import faces, images, resize, similar
from ingest.media.raw import RAW_FORMATS
from ingest.media.store import Store, put_original, write_atomic
from ingest.model import FileResult

MAX_FILE_BYTES = 1024**3


@dataclass
class Job:
    path: str
    size: int
    mtime_ns: int
    store: str
    dry_run: bool = False
    max_pixels: int = images.MAX_PIXELS
    timeout: int = 120
    sidecars: tuple[str, ...] | None = None   # as the scan found them; None: look beside the file
    detect_faces: bool = True


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def orphan_guard(parent: int) -> None:
    """Pool initializer: a worker ends when the import that started it is gone, however it went
    (`kill -9`, the OOM killer), instead of waiting forever for work. Linux sends it SIGTERM at
    once (PR_SET_PDEATHSIG); elsewhere, and should that fail, a thread notices the new parent."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it died before the signal was asked for
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="orphan-guard", daemon=True).start()


def start_worker(parent: int, detect_faces: bool = True) -> None:
    """Pool initializer: the orphan guard, then the warm-up."""
    orphan_guard(parent)
    warm_up(detect_faces)


def warm_up(detect_faces: bool = True) -> threading.Thread:
    """Ready this process for photos: freed buffers kept (`keep_freed_memory`), and what the first
    photo needs but its reading and decoding do not (OpenCV; the face model's session: ~0.1 s of
    CPU and, on a busy machine, up to 0.5 s of waiting) loaded in a thread, so that it overlaps
    them. A failure is left to the first real use, which reports it."""
    keep_freed_memory()

    def load() -> None:
        try:
            resize.opencv()
            if detect_faces:
                faces.load_session()
        except Exception:
            pass

    thread = threading.Thread(target=load, name="warm-up", daemon=True)
    thread.start()
    return thread


# glibc's mallopt() parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
KEPT_BUFFERS = 64 * 1024**2


def keep_freed_memory(size: int = KEPT_BUFFERS) -> None:
    """Let glibc keep up to `size` of freed memory for the next photo. A photo's buffers (~35 MB:
    the file, its decoded pixels, OpenCV's and numpy's copies) are otherwise handed back to the
    kernel when freed and zeroed by it again for the next one: ~12 ms of system CPU a 12 MP photo,
    a tenth of its cost. Larger buffers (a 100 MP scan) still come and go with mmap. Nothing
    happens elsewhere than glibc."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, size)
        libc.mallopt(_M_TRIM_THRESHOLD, 2 * size)
    except (OSError, AttributeError):
        pass


def _watch(parent: int, every: float = 0.5) -> None:
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


class _Timeout(BaseException):
    """BaseException, so that no reader's or decoder's catch-all can swallow the time limit."""


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


_MAX_LIBRARY_WARNINGS = 3


@contextmanager
def library_warnings(result: FileResult) -> Iterator[None]:
    """What the libraries say about one file (Python warnings from Pillow, lines libtiff or libheif
    print on the process's stderr) becomes that file's warnings, not noise on the user's terminal.
    Only in a process's main thread (a worker, the CLI): both the warning filters and fd 2 belong to
    the whole process, and another thread's output must not become this file's warning."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sys.stderr.flush()
    sink = _stderr_sink(os.getpid()).fileno()   # empty, at offset 0: left so after every file
    saved = os.dup(2)
    os.dup2(sink, 2)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    printed: list[str] = []
    if os.lseek(sink, 0, os.SEEK_CUR):   # something was printed: read it, then empty the file
        os.lseek(sink, 0, os.SEEK_SET)
        printed = os.read(sink, 4096).decode("utf-8", "replace").splitlines()
        os.ftruncate(sink, 0)
        os.lseek(sink, 0, os.SEEK_SET)
    said = [str(w.message) for w in caught] + printed
    for line in list(dict.fromkeys(" ".join(line.split()) for line in said if line.strip()))[:_MAX_LIBRARY_WARNINGS]:
        result.warnings.append(("decoder", line[:200]))


@lru_cache(maxsize=1)
def _stderr_sink(pid: int) -> Any:
    """One scratch file per process for what C libraries print (reused, emptied per file); by pid,
    as a forked worker must not share its parent's file offset."""
    sink = tempfile.TemporaryFile()
    atexit.register(sink.close)
    return sink


def process(job: Job, work: Callable[[Job, FileResult], None] | None = None) -> FileResult:
    """Run `work` (`extract` unless told) under a time limit; turn every failure into a problem."""
    result = FileResult(job.path, job.size, job.mtime_ns)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(job.timeout)
    try:
        with library_warnings(result):
            (work or extract)(job, result)
    except FileProblem as e:
        result.problem = (e.kind, e.message)
    except _Timeout:
        result.problem = ("timeout", f"gave up after {job.timeout} s")
    except MemoryError:
        result.problem = ("too-large", "ran out of memory reading this file")
    except OSError as e:
        result.problem = ("unreadable", f"cannot read: {e.strerror or e}")
    except Exception as e:  # a library bug on a hostile file must not end the batch
        result.problem = ("error", f"unexpected {type(e).__name__}: {str(e)[:120]}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return result


def _facts(result: FileResult, source: str, reader: Any, *args: Any) -> None:
    try:
        found = reader(*args)
    except MetadataProblem as e:
        result.warnings.append(("metadata", str(e)))
        return
    except Exception as e:  # a reader bug costs that block only, never the photo
        result.warnings.append(("metadata", f"{source} unreadable ({type(e).__name__})"))
        return
    if found:
        result.facts[source] = found


def _exif(data: bytes, opened: images.Opened, fmt: str) -> dict[str, Any]:
    """The EXIF block's tags as the header parse walked them (`exifblock`, once per file), else
    Pillow's reading (TIFF), then exifread where neither finds anything, and for raws and JPEG XL
    (a raw's opened image is its preview; a JPEG XL is not opened, so as not to decode it) and AVIF
    (Pillow rewrites its Orientation to the irot box's)."""
    problem = None
    facts = {}
    if opened.exif is not None:
        facts = read_exif_tags(opened.exif)
    elif fmt not in RAW_FORMATS and fmt not in ("JXL", "AVIF") and opened.segments is None:   # a JPEG walked already has no EXIF
        try:
            facts = read_exif_pillow(images.file_exif(opened.image))
        except Exception:   # a block Pillow cannot parse: exifread has its own try
            facts = {}
    if not facts:
        try:
            facts = read_exif(data)
        except MetadataProblem as e:
            facts, problem = {}, e
    if not facts and problem:
        raise problem
    return facts


def read_file(job: Job, result: FileResult) -> tuple[bytes, images.Opened]:
    """The metadata stage: read the file once; its hash, header and facts onto `result`."""
    path = Path(job.path)
    if job.size > MAX_FILE_BYTES:
        raise FileProblem("too-large", f"refused: {job.size / 1024**3:.1f} GiB is above the {MAX_FILE_BYTES // 1024**3} GiB file limit")
    with open(path, "rb") as f:
        # As many bytes as the file holds now (read(MAX_FILE_BYTES) would reserve a GiB per file),
        # then whatever it grew by since, up to the limit.
        expected = min(os.fstat(f.fileno()).st_size, MAX_FILE_BYTES)
        data = f.read(expected + 1)
        if len(data) > expected:
            data += f.read(MAX_FILE_BYTES + 1 - len(data))
    result.size = len(data)
    fmt = images.sniff(data[:64], path.suffix)
    result.format = fmt
    result.sha256 = hashlib.sha256(data).hexdigest()

    opened = images.open_image(data, fmt, job.max_pixels)
    result.width, result.height = opened.width, opened.height
    result.orientation = opened.orientation

    _facts(result, "exif", _exif, data, opened, fmt)
    # A raw's picture is its embedded preview, whose metadata is not the raw's: XMP from the raw's own header.
    # (a JPEG XL's XMP is in a box its plugin does not give: read from the bytes, without decoding)
    # (a JPEG's is in its header segments, walked once when it was opened)
    _facts(result, "xmp", read_xmp, data, None if fmt in RAW_FORMATS or fmt in ("JXL", "JPEG") else opened.image.info,
           opened.segments)
    if fmt == "PNG":
        _facts(result, "png", read_png_text, opened.image.info)
    _facts(result, "xmp-sidecar", read_sidecar, path, job.sidecars)
    tiff_iptc = None
    if fmt == "TIFF":
        # The raw bytes: Photoshop stores IPTC as LONGs, which Pillow's parsed value mangles.
        raw = getattr(getattr(opened.image, "tag_v2", None), "_tagdata", {}).get(33723)
        tiff_iptc = bytes(raw) if isinstance(raw, (bytes, bytearray)) else None
    _facts(result, "iptc", read_iptc, data, tiff_iptc, opened.segments)
    result.facts.update(read_names(path))
    # What the pixels still need after decoding (pillow-heif applies it itself), beside what EXIF said.
    result.facts["image"] = {"Orientation": opened.orientation, "Format": fmt}
    return data, opened


def read_only(job: Job, result: FileResult) -> None:
    """`read_file` alone, for `process`: what the metadata benchmark measures (no decode, no store)."""
    read_file(job, result)


def extract(job: Job, result: FileResult) -> None:
    """Read, then decode: into the store, or (dry run) only to know that a real run would succeed."""
    data, opened = read_file(job, result)
    fmt = result.format

    if job.dry_run:  # the same decode as a real run, so that a dry run's counts are the real run's
        images.derivatives(opened)
        result.warnings += [("decode", w) for w in opened.warnings]
        return
    store = Store(job.store)
    with store_writes() as write:
        write(put_original, store, result.sha256, images.FORMATS[fmt][1], data)
        im = None
        if not store.has_derivatives(result.sha256):
            im = images.web_image(opened)
            web, thumb = images.encode_derivatives(im)
            result.warnings += [("decode", w) for w in opened.warnings]
            write(write_atomic, store.derivative("web", result.sha256), web)
            write(write_atomic, store.derivative("thumbs", result.sha256), thumb)
        else:
            thumb = store.derivative("thumbs", result.sha256).read_bytes()
        if job.detect_faces:
            detect_faces(result, im if im is not None else store.derivative("web", result.sha256))
        # From the thumbnail (upright, sRGB, small): about 1/30 of the derivatives' cost, and the same
        # hash `ingest retag` computes for photos imported before there were hashes.
        result.phash = similar.phash_jpeg(thumb)


@contextmanager
def store_writes() -> Iterator[Callable[..., None]]:
    """Store writes (each synced to disk: ~10 ms of waiting, ~35 ms a photo) run in this process'
    writer thread while the decode and face detection go on. All have ended when the block does,
    and the first one's error is raised: a result never names a file that is not on disk yet."""
    pending: list[Future] = []
    try:
        yield lambda fn, *args: pending.append(_writer(os.getpid()).submit(fn, *args))
    finally:
        wait(pending)   # every write ended, even when the photo failed: none is left under way
    for future in pending:
        future.result()


@lru_cache(maxsize=1)
def _writer(pid: int) -> ThreadPoolExecutor:
    """One writer thread per process, by pid: a forked worker does not inherit its parent's threads."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")


def detect_faces(result: FileResult, image: Any, edge: int = faces.DETECT_EDGE) -> None:
    """Faces on the web size's pixels (an Image, or the stored web size's path): the image the
    derivatives were made from, so no second decode. A failure is a warning, and leaves the photo
    unpublished while faces are obscured (faces_status `failed`)."""
    try:
        if isinstance(image, images.Image.Image):
            found = faces.detect(image, edge=edge)
        else:
            with images.Image.open(image) as im:
                found = faces.detect(im, edge=edge)
    except Exception as e:  # the detector's or the model's failure costs this photo's publication only
        result.faces_status = "failed"
        result.warnings.append(("faces", f"face detection failed ({type(e).__name__}): not public until it runs"))
        return
    result.faces_status = "found" if found else "none"
    result.faces = [(*f.box, f.score) for f in found]
