"""The portal's database models, one module per area."""
from portal.models.accounts import Account
from portal.models.catalog import Campaign, Kit, KitArchive, Material, MaterialVersion
from portal.models.tracking import DownloadEvent

__all__ = [
    "Account",
    "Campaign",
    "DownloadEvent",
    "Kit",
    "KitArchive",
    "Material",
    "MaterialVersion",
]
