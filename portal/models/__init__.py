"""The portal's database models, one module per area."""
from portal.models.accounts import Account, AccountToken
from portal.models.audit import AuditEntry
from portal.models.catalog import (
    Campaign,
    Kit,
    KitArchive,
    Material,
    MaterialVersion,
    RegionTarget,
)
from portal.models.jobs import BackgroundJob
from portal.models.orders import PrintOrder, PrintOrderLine
from portal.models.personalization import (
    CobrandProfile,
    DailySalt,
    PersonalizedDocument,
    QrScan,
)
from portal.models.stats import (
    ActorDay,
    DailyDownloads,
    DailyFirsts,
    DailyScans,
    DailySummary,
    FetchState,
    FirstKit,
    FirstOrganization,
    RollupState,
)
from portal.models.tracking import DownloadEvent

__all__ = [
    "Account",
    "AccountToken",
    "ActorDay",
    "AuditEntry",
    "BackgroundJob",
    "Campaign",
    "CobrandProfile",
    "DailyDownloads",
    "DailyFirsts",
    "DailySalt",
    "DailyScans",
    "DailySummary",
    "FetchState",
    "FirstKit",
    "FirstOrganization",
    "RollupState",
    "PersonalizedDocument",
    "PrintOrder",
    "PrintOrderLine",
    "QrScan",
    "RegionTarget",
    "DownloadEvent",
    "Kit",
    "KitArchive",
    "Material",
    "MaterialVersion",
]
