"""What the provider emulators under ``local/`` share, so each provider's package holds only its protocol.

- `clock`: ``SystemClock`` and the ``ManualClock`` tests advance instead of sleeping.
- `scenarios`: which scenario a generation follows (scripted next, prompt rules, default).
- `faults`: injected faults (http_error, timeout, reset, latency) on the operations a provider names.
- `api`: the request pipeline (faults, errors, request log) and `control_api`: the shared ``/_emulator`` controls.
- `server`: the threaded werkzeug server that stops and restarts on its port, and ``ScriptedServer``, the base of
  every emulator's server (clock, faults, request log, the scenario and fault controls).
- `cli`: what ``python -m local.<emulator>`` shares: the common options and serving until SIGINT/SIGTERM.
- `media`: the committed mp4 fixtures and exactly-sized mp4s built on them; `streaming`: bodies cut on purpose.
- `webhooks`: delivery with retries and a log, signed by a pluggable signer; `standard_webhooks`: the HMAC one.
"""
