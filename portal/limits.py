"""Rate limits that several routes share, or that protect a figure rather than a form.

Flask-Limiter applies them (shared through Redis when PORTAL_REDIS_URL is set); their
values are settings, read per request: PORTAL_DOWNLOAD_RATE_LIMIT (one budget for every
kind of download, per account) and PORTAL_QR_SCAN_LIMIT (per address).
"""
from __future__ import annotations

from portal.extensions import limiter
from portal.privacy import download_rate_key, download_rate_limit, qr_scan_limit

# Material files, kit ZIPs, personalized documents and framed pictures draw on one budget.
downloads = limiter.shared_limit(download_rate_limit, scope="downloads",
                                 key_func=download_rate_key, methods=["GET", "POST"])
qr_scans = limiter.limit(qr_scan_limit)
