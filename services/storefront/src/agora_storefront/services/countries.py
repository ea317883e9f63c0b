"""The countries an order can be shipped to: ISO 3166-1 alpha-2 codes named in the shop's locale."""

from __future__ import annotations

from functools import cache

from babel import Locale

# CLDR names a few territories that are no ISO 3166-1 country (ordering refuses them): groupings
# (EU, EZ, UN, QO), private-use and pseudo codes (XA, XB, XK, ZZ) and exceptionally reserved ones.
NOT_ISO_3166 = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "XK", "ZZ"}
)
ALPHA_2 = 2


@cache
def countries(locale: str) -> tuple[tuple[str, str], ...]:
    """Every country as ``(code, name)``, ordered by its name in ``locale``."""
    names = Locale.parse(locale).territories
    found = [
        (code, name)
        for code, name in names.items()
        if len(code) == ALPHA_2 and code.isalpha() and code.isupper() and code not in NOT_ISO_3166
    ]
    return tuple(sorted(found, key=lambda pair: pair[1].casefold()))


def home_country(locale: str) -> str:
    """The country a locale names (``en_US`` → ``US``), the default of the address form."""
    territory = Locale.parse(locale).territory
    return territory if territory and territory not in NOT_ISO_3166 else ""
