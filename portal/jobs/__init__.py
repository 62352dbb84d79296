"""Heavy work done outside requests: an RQ queue on Redis when PORTAL_REDIS_URL is set,
otherwise the bounded job pool of the app server (portal.background). Never inside the
request itself."""
