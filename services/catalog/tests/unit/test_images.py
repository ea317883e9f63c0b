"""Product images: deterministic SVG, every piece of text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from agora_catalog.services.images import colours_for, image_path, initials, render_svg, xml_text

SVG_NS = "{http://www.w3.org/2000/svg}"


def _parse(svg: bytes) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output


def test_render_svg_is_well_formed_and_names_the_product() -> None:
    svg = render_svg("Classic Cast Iron Skillet", "PAN-00001", "Pans", "pans")

    root = _parse(svg)

    assert root.tag == f"{SVG_NS}svg"
    assert root.findtext(f"{SVG_NS}title") == "Classic Cast Iron Skillet"
    texts = [element.text for element in root.iter(f"{SVG_NS}text")]
    assert "CC" in texts
    assert "Pans · PAN-00001" in texts


def test_render_svg_same_input_gives_the_same_bytes() -> None:
    assert render_svg("Mug", "M-1", "Cups", "cups") == render_svg("Mug", "M-1", "Cups", "cups")


def test_render_svg_escapes_markup_in_names() -> None:
    name = 'Salt & Pepper <script>alert("x")</script>'

    svg = render_svg(name, "SP-1", "A & B", "spices")

    assert b"<script>" not in svg
    assert b"&lt;script&gt;" in svg
    assert b"&amp;" in svg
    root = _parse(svg)
    assert root.findtext(f"{SVG_NS}title") == name
    assert root.get("aria-label") == name
    assert not list(root.iter(f"{SVG_NS}script"))


def test_render_svg_wraps_long_names_on_three_lines() -> None:
    name = "Ultra-Light Noise-Cancelling Over-Ear Headphones Pro Max Deluxe Edition Plus"

    root = _parse(render_svg(name, "HPH-1", "Headphones", "headphones"))

    lines = [e.text for e in root.iter(f"{SVG_NS}text") if e.get("font-size") == "28"]
    assert len(lines) == 3
    assert str(lines[-1]).endswith("…")


def test_xml_text_drops_characters_xml_cannot_carry() -> None:
    assert xml_text("a\x00b\x1fc\ufffe\td") == "abc\td"
    assert xml_text("\"'") == "&quot;&#x27;"


def test_colours_for_is_stable_and_from_the_palette() -> None:
    assert colours_for("pans") == colours_for("pans")
    assert len({colours_for(slug) for slug in ("pans", "pots", "mice", "tents", "bags")}) > 1


def test_initials_take_the_first_two_words_starting_with_a_letter() -> None:
    assert initials("classic cast iron") == "CC"
    assert initials("& more") == "M"
    assert initials("") == "?"


def test_image_path_is_under_images_products() -> None:
    assert image_path("PAN-00001") == "/images/products/PAN-00001.svg"
