"""Draws the rider's app icons (web/public/icons/): a white camera on the app's blue, the
camera inside the middle 80 % so the same picture serves as a maskable icon.

Run from the repository: ``uv run python web/scripts/icons.py``."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

BLUE = (25, 137, 250)  # #1989fa, the theme colour of web/index.html
WHITE = (255, 255, 255)
SIZES = (192, 512)
OUT = Path(__file__).resolve().parents[1] / "public" / "icons"


def icon(size: int) -> Image.Image:
    scale = 4  # drawn large, then shrunk: smooth edges
    side = size * scale
    image = Image.new("RGB", (side, side), BLUE)
    draw = ImageDraw.Draw(image)

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
        return (round(x0 * side), round(y0 * side), round(x1 * side), round(y1 * side))

    # The body, its viewfinder bump, the lens and the flash.
    draw.rounded_rectangle(box(0.24, 0.35, 0.76, 0.71), radius=round(0.06 * side), fill=WHITE)
    draw.rounded_rectangle(box(0.39, 0.29, 0.57, 0.38), radius=round(0.025 * side), fill=WHITE)
    draw.ellipse(box(0.385, 0.40, 0.615, 0.63), fill=BLUE)
    draw.ellipse(box(0.425, 0.44, 0.575, 0.59), fill=WHITE)
    draw.ellipse(box(0.655, 0.39, 0.705, 0.44), fill=BLUE)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        icon(size).save(OUT / f"icon-{size}.png", format="PNG", optimize=True)


if __name__ == "__main__":
    main()
