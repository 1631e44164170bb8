"""Campaign sends' Temporal names: what starters and the worker agree on. A run in flight
depends on these; renaming one strands it."""

from __future__ import annotations

CAMPAIGN_WORKFLOW = "CampaignSend"
PAUSE_SIGNAL = "pause"
RESUME_SIGNAL = "resume"
CANCEL_SIGNAL = "cancel"
PROGRESS_QUERY = "progress"
