"""Fault drills (issue 17): load, faults and a count of what was lost, on a stack of their own.

Like bench/, a top-level package: it depends on the services, no service depends on it.
"""
