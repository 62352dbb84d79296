"""Rate limits that several routes share, or that protect a figure rather than a form.

Flask-Limiter applies them (shared through Redis when PORTAL_REDIS_URL is set); their
values are settings, read per request: PORTAL_DOWNLOAD_RATE_LIMIT (one budget for every
kind of download, per account), PORTAL_UPLOAD_RATE_LIMIT (one budget for every upload,
per account) and PORTAL_QR_SCAN_LIMIT (per address).
"""
from __future__ import annotations

from portal.extensions import limiter
from portal.privacy import (
    account_or_address,
    download_rate_limit,
    qr_scan_limit,
    sends_a_file,
    upload_rate_limit,
)

# Material files, kit ZIPs, personalized documents and framed pictures draw on one budget.
downloads = limiter.shared_limit(download_rate_limit, scope="downloads",
                                 key_func=account_or_address, methods=["GET", "POST"])
qr_scans = limiter.limit(qr_scan_limit)
# Logos, photos and staff files: a request without a file does not count.
uploads = limiter.shared_limit(upload_rate_limit, scope="uploads", key_func=account_or_address,
                               methods=["POST"], exempt_when=lambda: not sends_a_file())
