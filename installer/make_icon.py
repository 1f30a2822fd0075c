"""Draw the LayerScope app icon as SVG and PNG from one set of shapes.

Why one script for both: the .desktop entry wants a PNG (hicolor/256x256) and a scalable SVG, and
drawing them from the same coordinates keeps them identical. The picture: three stacked encoder
layers, a magnifying glass over the middle one, which shows red inside the lens (the layer where
the generator's fingerprint is found).

Usage: .venv/bin/python installer/make_icon.py   (writes resources/icons/layerscope.{svg,png})
"""

from __future__ import annotations

import sys
from pathlib import Path

SIZE = 256
BACKGROUND = "#1f2a44"
# (parallelogram corners, fill): sheets seen slightly from above, back to front
SHEETS = (
    (((70, 52), (206, 52), (186, 92), (50, 92)), "#3fa7d6"),
    (((70, 102), (206, 102), (186, 142), (50, 142)), "#59cd90"),
    (((70, 152), (206, 152), (186, 192), (50, 192)), "#fac05e"),
)
HIGHLIGHT = "#ee6055"  # the middle sheet as seen through the lens
LENS_CENTRE, LENS_RADIUS, LENS_WIDTH = (112, 122), 46, 12
HANDLE = ((146, 156), (200, 210))
HANDLE_WIDTH = 22
RIM = "#f4f4f4"


def _points(corners) -> str:
    return " ".join(f"{x},{y}" for x, y in corners)


def _lens_band_path() -> str:
    """The middle sheet seen through the lens: the lens disc cut to the sheet's top and bottom.

    Written as arcs, not a clipPath, because Qt's SVG renderer (the one the app and many
    desktops use) ignores clip paths. The lens lies inside the sheet's slanted sides.
    """
    cx, cy = LENS_CENTRE
    top, bottom = SHEETS[1][0][0][1], SHEETS[1][0][2][1]
    r = LENS_RADIUS
    dx_top, dx_bottom = ((r * r - (y - cy) ** 2) ** 0.5 for y in (top, bottom))
    return (f"M {cx - dx_top:.2f} {top} L {cx + dx_top:.2f} {top} A {r} {r} 0 0 1 {cx + dx_bottom:.2f} {bottom} "
            f"L {cx - dx_bottom:.2f} {bottom} A {r} {r} 0 0 1 {cx - dx_top:.2f} {top} Z")


def svg() -> str:
    """The icon as a standalone SVG document."""
    cx, cy = LENS_CENTRE
    (hx0, hy0), (hx1, hy1) = HANDLE
    sheets = "\n".join(f'  <polygon points="{_points(c)}" fill="{fill}"/>' for c, fill in SHEETS)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}">
  <title>LayerScope</title>
  <rect x="8" y="8" width="{SIZE - 16}" height="{SIZE - 16}" rx="44" fill="{BACKGROUND}"/>
{sheets}
  <path d="{_lens_band_path()}" fill="{HIGHLIGHT}"/>
  <line x1="{hx0}" y1="{hy0}" x2="{hx1}" y2="{hy1}" stroke="{RIM}" stroke-width="{HANDLE_WIDTH}"
        stroke-linecap="round"/>
  <circle cx="{cx}" cy="{cy}" r="{LENS_RADIUS}" fill="none" stroke="{RIM}" stroke-width="{LENS_WIDTH}"/>
</svg>
"""


def png(path: Path, scale: int = 4) -> None:
    """Render the same shapes with Pillow (drawn at scale x, then downsampled for smooth edges)."""
    from PIL import Image, ImageDraw

    big = SIZE * scale

    def s(xy):
        return [(x * scale, y * scale) for x, y in xy]

    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((8 * scale, 8 * scale, (SIZE - 8) * scale, (SIZE - 8) * scale), 44 * scale,
                           fill=BACKGROUND)
    for corners, fill in SHEETS:
        draw.polygon(s(corners), fill=fill)
    cx, cy = LENS_CENTRE
    box = ((cx - LENS_RADIUS) * scale, (cy - LENS_RADIUS) * scale,
           (cx + LENS_RADIUS) * scale, (cy + LENS_RADIUS) * scale)
    lens_mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(lens_mask).ellipse(box, fill=255)
    highlight = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    ImageDraw.Draw(highlight).polygon(s(SHEETS[1][0]), fill=HIGHLIGHT)
    image.paste(highlight, (0, 0), Image.composite(highlight, Image.new("RGBA", (big, big)), lens_mask))
    draw.line(s(HANDLE), fill=RIM, width=HANDLE_WIDTH * scale)
    for end in HANDLE:  # round caps
        r = HANDLE_WIDTH * scale / 2
        x, y = end[0] * scale, end[1] * scale
        draw.ellipse((x - r, y - r, x + r, y + r), fill=RIM)
    half = LENS_WIDTH * scale / 2
    draw.ellipse((box[0] - half, box[1] - half, box[2] + half, box[3] + half), outline=RIM,
                 width=LENS_WIDTH * scale)
    image.resize((SIZE, SIZE), Image.Resampling.LANCZOS).save(path)


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "layerscope.svg").write_text(svg(), encoding="utf-8")
    png(out_dir / "layerscope.png")
    print(f"wrote {out_dir / 'layerscope.svg'} and {out_dir / 'layerscope.png'}")


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else root / "resources" / "icons")
