"""The JSON API at /api/v1/ (docs/api.md): what every endpoint shares. Views live with their apps
(accounts.api, attendance.api); ``urls`` puts them on one router.

The modules named in REST_FRAMEWORK (permissions, pagination, throttling, errors, schema) import no DRF
views at import time: DRF reads its settings while ``rest_framework.views`` is still being imported.
"""
