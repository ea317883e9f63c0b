"""Product images drawn on the fly as SVG, so the demo shop needs no image files and no internet.

An image is a card in its category's colour with the product's initials, its name and its SKU.
It depends only on the product's name, SKU and category, so the same product always gets the same
bytes (and the same ETag). Every piece of text is XML-escaped: a product called
``<script>&`` stays text.
"""

from __future__ import annotations

import hashlib
import html
import re
import textwrap

from agora_catalog.repositories.categories import CategoryRepository
from agora_catalog.repositories.products import ProductRepository
from agora_catalog.services.errors import ProductNotFound

IMAGE_PREFIX = "/images/products/"
SIZE = 480
CENTRE = SIZE // 2
NAME_WIDTH = 22
NAME_LINES = 3
INITIALS = 2
# (background, text) pairs with enough contrast for white or near-black text.
PALETTE = (
    ("#1f4e79", "#ffffff"),
    ("#7a2e2e", "#ffffff"),
    ("#2e6b4f", "#ffffff"),
    ("#5b3f8c", "#ffffff"),
    ("#b5651d", "#ffffff"),
    ("#2f5d62", "#ffffff"),
    ("#8c2f5b", "#ffffff"),
    ("#f2c14e", "#1b1b1b"),
    ("#9fd8cb", "#1b1b1b"),
    ("#f4a896", "#1b1b1b"),
    ("#c9d6df", "#1b1b1b"),
    ("#e3d5b8", "#1b1b1b"),
)
# Characters XML 1.0 forbids even escaped (C0 controls but tab and newlines, surrogates, U+FFFE/F).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def image_path(sku: str) -> str:
    """The site path of a product's image (``/images/products/<sku>.svg``)."""
    return f"{IMAGE_PREFIX}{sku}.svg"


def xml_text(text: str) -> str:
    """``text`` safe inside an XML element or a double-quoted attribute."""
    return html.escape(_NOT_XML.sub("", text), quote=True)


def colours_for(key: str) -> tuple[str, str]:
    """The (background, text) colours of ``key`` (a category slug), stable across processes."""
    digest = hashlib.sha256(key.encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def initials(name: str) -> str:
    """Up to two capital letters from the first words of ``name`` that start with one."""
    letters = [word[0].upper() for word in name.split() if word[:1].isalnum()]
    return "".join(letters[:INITIALS]) or "?"


def render_svg(name: str, sku: str, category: str, category_slug: str) -> bytes:
    """The SVG image of a product.

    Args:
        name: The product's name (wrapped on up to three lines).
        sku: Its SKU, printed small.
        category: Its category's name, printed small.
        category_slug: Chooses the background colour.

    Returns:
        The UTF-8 SVG document.
    """
    background, ink = colours_for(category_slug)
    mark = xml_text(initials(name))
    lines = textwrap.wrap(name, NAME_WIDTH, max_lines=NAME_LINES, placeholder=" …") or [""]
    name_lines = "".join(
        f'<text x="{CENTRE}" y="{330 + 34 * number}" font-size="28">{xml_text(line)}</text>'
        for number, line in enumerate(lines)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" '
        f'viewBox="0 0 {SIZE} {SIZE}" role="img" aria-label="{xml_text(name)}">'
        f"<title>{xml_text(name)}</title>"
        f'<rect width="{SIZE}" height="{SIZE}" fill="{background}"/>'
        f'<circle cx="{CENTRE}" cy="170" r="100" fill="{ink}" fill-opacity="0.15"/>'
        f'<g fill="{ink}" font-family="Helvetica, Arial, sans-serif" text-anchor="middle">'
        f'<text x="{CENTRE}" y="205" font-size="96" font-weight="700">{mark}</text>'
        f"{name_lines}"
        f'<text x="{CENTRE}" y="452" font-size="16" fill-opacity="0.8">'
        f"{xml_text(category)} · {xml_text(sku)}</text></g></svg>\n"
    ).encode()


class ImageService:
    """Product images, for one transaction."""

    def __init__(self, products: ProductRepository, categories: CategoryRepository) -> None:
        """Read products and their categories through the repositories."""
        self.products = products
        self.categories = categories

    async def product_image(self, sku: str) -> bytes:
        """The SVG of the active product with this SKU.

        Raises:
            ProductNotFound: No active product has this SKU.
        """
        product = await self.products.get_by_sku(sku)
        if product is None or not product.active:
            raise ProductNotFound(f"no product with SKU {sku!r}")
        category = await self.categories.get(product.category_id)
        name, slug = (category.name, category.slug) if category else ("", "")
        return render_svg(product.name, product.sku, name, slug)
