"""The channel side's services: push (the engine), channel_io (connectors, push records,
health), actions (what staff do to a channel) and reconcile (drift and its resolutions)."""
