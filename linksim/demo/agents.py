"""Who clicks and opens: browser and mail-client user agents, and link-scanning mail gateways.

A gateway (Microsoft Defender for Office 365 "Safe Links", Mimecast URL Protect, Proofpoint URL
Defense, Barracuda Link Protection) fetches every link of an incoming mail before the person sees
it, from the vendor's own address ranges. Three of them name the product in their user agent;
Microsoft's poses as a browser, as real gateways often do, so the demo needs every bot rule.
"""

from __future__ import annotations

__all__ = ["BROWSER_USER_AGENTS", "GATEWAYS", "MAIL_CLIENT_USER_AGENTS", "SCANNER_USER_AGENTS"]

BROWSER_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/128.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/128.0.0.0 Safari/537.36 Edg/128.0.2739.67",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/128.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/128.0.6613.127 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
)
MAIL_CLIENT_USER_AGENTS = (
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Thunderbird/128.3.0",
)
# Link-scanning mail gateways: (product, user agent, first two octets of their address ranges).
GATEWAYS: tuple[tuple[str, str, tuple[tuple[int, int], ...]], ...] = (
    (
        "Microsoft Defender for Office 365",
        # poses as a browser: only its address ranges and its timing give it away
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        ((40, 94), (52, 100), (104, 47)),
    ),
    (
        "Mimecast",
        "Mozilla/5.0 (compatible; Mimecast-URL-Protect/2.1; +https://www.mimecast.com)",
        ((205, 139), (207, 211), (170, 10)),
    ),
    (
        "Proofpoint",
        "Mozilla/5.0 (compatible; Proofpoint-URL-Defense/3.0; +https://www.proofpoint.com)",
        ((148, 163), (67, 231)),
    ),
    (
        "Barracuda",
        "Mozilla/5.0 (compatible; Barracuda-LinkProtect/1.0; +https://www.barracuda.com)",
        ((209, 222), (64, 235)),
    ),
)
SCANNER_USER_AGENTS = tuple(g[1] for g in GATEWAYS)
