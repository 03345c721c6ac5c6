"""`edgemood serve`: the device service. ``server`` runs it (uvicorn + inference workers + watch
folder + systemd notify), ``http_api`` is the Starlette app, ``auth`` its bearer token, ``watch``
the watch folder, ``worker`` the inference processes, ``prometheus`` the /metrics counters,
``config`` the TOML settings and ``sdnotify`` the systemd protocol. Needs the [serve] extra,
except ``config`` and ``auth``, which the CLI reads before it knows whether to start."""
