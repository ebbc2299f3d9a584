"""Platform routes: liveness (``GET /health``, ``GET /``), readiness (``GET /ready``) and the
local object store's presigned URLs (``GET /objects/{key}``)."""
