"""The demo company's registered script (entry point `crm_enrich` in group `linksim.scripts`)."""

from __future__ import annotations

import pandas as pd

__all__ = ["crm_enrich"]


def crm_enrich(clicks: pd.DataFrame) -> pd.DataFrame:
    """Score the survey clickers: more clicks on the survey link, a warmer lead.

    A stand-in for a call to an enrichment service; it gets the batch of fired clicks and returns
    field changes, as every linksim script may.

    >>> clicks = pd.DataFrame({"click_id": [7], "link_hits": [3]})
    >>> crm_enrich(clicks).to_dict(orient="records")
    [{'click_id': 7, 'field': 'lead_score', 'value': '80'}]
    """
    score = 50 + 10 * clicks["link_hits"].clip(upper=5)
    return pd.DataFrame(
        {"click_id": clicks["click_id"], "field": "lead_score", "value": score.astype(str)}
    )
