"""Redirect URLs: absolute `http`/`https` with a host, nothing that runs code (SPEC §3)."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

__all__ = ["RedirectUrl", "RefusedRedirect", "check_redirect"]


class RefusedRedirect(ValueError):
    """A redirect a browser must not be sent to; `code` names the lint finding."""

    code = "redirect-refused"


_EXAMPLE = "e.g. https://example.com/thanks"
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")


def check_redirect(url: str) -> str:
    """Return ``url`` if a browser may be sent there, else raise `RefusedRedirect` saying why.

    >>> check_redirect("https://example.com/thanks")
    'https://example.com/thanks'
    >>> check_redirect("/thanks")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    linksim.definitions._urls.RefusedRedirect: relative URL '/thanks' is refused: ...
    """
    if _UNSAFE.search(url):
        raise RefusedRedirect(f"redirect {url!r} contains spaces or control characters; {_EXAMPLE}")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("javascript", "vbscript", "data"):
        raise RefusedRedirect(
            f"{scheme}: URLs are refused as redirects ({url[:40]!r}): they run code or show "
            f"content in the reader's browser; use an absolute http or https URL, {_EXAMPLE}"
        )
    if not scheme:
        looks_like_host = "." in url.split("/")[0]
        hint = f"; did you mean 'https://{url}'?" if looks_like_host else f", {_EXAMPLE}"
        raise RefusedRedirect(
            f"relative URL {url!r} is refused: a redirect must be an absolute http or https URL "
            f"with a host{hint}"
        )
    if scheme not in ("http", "https"):
        raise RefusedRedirect(
            f"{scheme}: URLs are refused as redirects ({url!r}): use an absolute http or https "
            f"URL, {_EXAMPLE}"
        )
    if not parts.hostname:
        raise RefusedRedirect(f"redirect {url!r} has no host; {_EXAMPLE}")
    return url


RedirectUrl = Annotated[
    str,
    AfterValidator(check_redirect),
    Field(
        description="An absolute http or https URL with a host.",
        json_schema_extra={"format": "uri", "pattern": "^[hH][tT][tT][pP][sS]?://[^/?#\\s]+"},
    ),
]
