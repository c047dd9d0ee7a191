"""Webhook ingest: one generic receiver, shared verification schemes and handshakes.

A source (sources/<name>/) declares which scheme proves its deliveries, where its
delivery id and event type are, and which handshakes it answers; nothing here names a
source.
"""
