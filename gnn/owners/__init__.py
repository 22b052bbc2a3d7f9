"""The owners' loop beside scoring: audit log, feedback and overrides, forecast, alerts and monitoring.

Everything here lives once above the store contract (`graph.store`: the
record log), so it works on every backend. Imports graph and gnn; only `api`
reads settings and decides what a principal may see.
"""
