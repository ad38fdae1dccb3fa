"""What every platform's sandbox shares: a local, stateful HTTP server of the platform's API.

    from connectors.platforms.sandbox.serve import start_sandbox
    with start_sandbox("webflow") as sandbox:
        requests.get(f"{sandbox.url}/_sandbox/state")

base.py (the WSGI app skeleton and the control API), faults.py (failure switches, request
log), limits.py (rate limiters, tokens), server.py (Werkzeug's threaded server), serve.py
(start one by platform name, or serve them all). Werkzeug is the `sandboxes` extra: nothing
here is imported by the app itself.
"""
