"""The maintained lists of link scanners: user-agent marks and address ranges (SPEC §3).

E-mail security gateways fetch every link of an incoming mail before the person sees it. Some say
so in their user agent; most fetch from the vendor's published address ranges. A definitions file
uses these lists unless it sets ``bot_filter: {default_lists: false}``, and adds its own with
``user_agents`` and ``ip_ranges``.

The ranges are the mail-gateway ranges the vendors published when this list was last reviewed
(see `REVIEWED`); vendors add ranges over time, so check their current lists and add what is
missing in your definitions file. A range here covers mail and link-checking hosts: a person does
not browse from them.

>>> ip_bounds("192.0.2.0/24") == (0xFFFF_C000_0200, 0xFFFF_C000_02FF)
True
"""

from __future__ import annotations

import ipaddress

__all__ = ["REVIEWED", "SCANNER_IP_RANGES", "SCANNER_USER_AGENTS", "first_octets", "ip_bounds"]

REVIEWED = "2026-11"

# Case-insensitive substrings of a user agent that no person's browser sends: named security
# gateways, link-preview fetchers, crawlers and HTTP libraries.
SCANNER_USER_AGENTS: tuple[str, ...] = (
    # security gateways that name themselves
    "safelinks",
    "mimecast",
    "proofpoint",
    "barracuda",
    # link previews in chat and social apps (a forwarded mail, not the recipient's click)
    "facebookexternalhit",
    "slackbot",
    "linkedinbot",
    "twitterbot",
    "discordbot",
    "telegrambot",
    "skypeuripreview",
    "bingpreview",
    # crawlers and headless browsers
    "googlebot",
    "bingbot",
    "headlesschrome",
    "phantomjs",
    "crawler",
    "spider",
    # HTTP libraries and command-line tools
    "python-requests",
    "python-urllib",
    "go-http-client",
    "okhttp",
    "apache-httpclient",
    "libwww-perl",
    "curl/",
    "wget/",
    "java/",
)

# (range, vendor): the published sending and link-checking ranges of the four gateways that
# click most links in business mail.
SCANNER_IP_RANGES: tuple[tuple[str, str], ...] = (
    ("40.92.0.0/15", "Microsoft Exchange Online Protection"),
    ("40.107.0.0/16", "Microsoft Exchange Online Protection"),
    ("52.100.0.0/14", "Microsoft Exchange Online Protection"),
    ("104.47.0.0/17", "Microsoft Exchange Online Protection"),
    ("2a01:111:f400::/48", "Microsoft Exchange Online Protection"),
    ("2a01:111:f403::/48", "Microsoft Exchange Online Protection"),
    ("205.139.110.0/24", "Mimecast"),
    ("216.205.24.0/24", "Mimecast"),
    ("207.211.30.0/24", "Mimecast"),
    ("195.130.217.0/24", "Mimecast"),
    ("91.220.42.0/24", "Mimecast"),
    ("146.101.78.0/24", "Mimecast"),
    ("148.163.128.0/19", "Proofpoint"),
    ("67.231.144.0/20", "Proofpoint"),
    ("64.235.144.0/20", "Barracuda"),
    ("209.222.80.0/21", "Barracuda"),
)

_V4_MAPPED = 0xFFFF_0000_0000  # ::ffff:0:0/96, where an IPv4 address lives in IPv6


def ip_bounds(cidr: str) -> tuple[int, int]:
    """The first and last address of a range, as 128-bit numbers (IPv4 mapped into IPv6).

    This is the numbering of the engine's `ls_ip_number` macro, so a click's address falls in a
    range exactly when its number lies between the bounds.

    >>> ip_bounds("2001:db8::/127")
    (42540766411282592856903984951653826560, 42540766411282592856903984951653826561)
    """
    network = ipaddress.ip_network(cidr, strict=False)
    first, last = int(network.network_address), int(network.broadcast_address)
    if network.version == 4:
        return _V4_MAPPED + first, _V4_MAPPED + last
    return first, last


def first_octets(lo: int, hi: int) -> tuple[int, int] | None:
    """The first numbers of the IPv4 addresses in [lo, hi] (bounds as `ip_bounds` gives them).

    The engine tries the full parse of a dotted address only when its first number is in such
    a span of some range: a cheap sieve, as most addresses are in no range. ``None``: the range
    holds no IPv4 address.

    >>> first_octets(*ip_bounds("40.92.0.0/15")), first_octets(*ip_bounds("2a01:111:f400::/48"))
    ((40, 40), None)
    >>> first_octets(*ip_bounds("::/0"))
    (0, 255)
    """
    start, end = max(lo, _V4_MAPPED), min(hi, _V4_MAPPED + 0xFFFF_FFFF)
    if start > end:
        return None
    return (start - _V4_MAPPED) >> 24, (end - _V4_MAPPED) >> 24
