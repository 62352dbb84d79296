"""Heavy work done outside requests: an RQ queue on Redis when PORTAL_REDIS_URL is set,
otherwise a background thread of the app server. Never inside the request itself."""
