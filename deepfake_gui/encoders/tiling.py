"""Native-resolution tiles of a picture: where scan and training look, so both see the same pixels.

Generator fingerprints live in the pixel grid; resizing a picture to the encoder's input
erases them. A picture at least one tile wide is cut into evenly spread tiles (the last
row and column end-aligned); a smaller one is centre-cropped to a square and left to the
encoder to resize.
"""

from __future__ import annotations

import math

import numpy as np


def tile_boxes(height: int, width: int, size: int, max_tiles: int) -> tuple[str, list[tuple[int, int, int, int]]]:
    """("tiles" | "resize", boxes (y0, x0, y1, x1)) covering the picture with at most ``max_tiles`` tiles."""
    if min(height, width) < size:
        side = min(height, width)
        y0, x0 = (height - side) // 2, (width - side) // 2
        return "resize", [(y0, x0, y0 + side, x0 + side)]
    ny, nx = math.ceil(height / size), math.ceil(width / size)
    if ny * nx > max_tiles:
        factor = math.sqrt(max_tiles / (ny * nx))
        ny, nx = max(1, int(ny * factor)), max(1, int(nx * factor))
        while ny * nx > max_tiles:
            ny, nx = (ny - 1, nx) if ny >= nx else (ny, nx - 1)
    boxes = [(y, x, y + size, x + size) for y in _positions(height, size, ny) for x in _positions(width, size, nx)]
    return "tiles", boxes


def _positions(extent: int, size: int, count: int) -> list[int]:
    if count <= 1:
        return [(extent - size) // 2]
    return sorted({int(round(v)) for v in np.linspace(0, extent - size, count)})


def native_tiles(image: np.ndarray, size: int, max_tiles: int) -> list[np.ndarray]:
    """The tiles themselves (views into ``image``); a picture smaller than a tile is its centred square."""
    mode, boxes = tile_boxes(image.shape[0], image.shape[1], size, max_tiles)
    if mode == "resize":
        y0, x0, y1, x1 = boxes[0]
        return [image[y0:y1, x0:x1]] if (y1 - y0, x1 - x0) != image.shape[:2] else [image]
    return [image[y0:y1, x0:x1] for y0, x0, y1, x1 in boxes]
