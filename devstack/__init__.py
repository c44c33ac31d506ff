"""Local Supabase-compatible stack without Docker: PostgreSQL, PostgREST, moto, API gateway.

Run it with ``python -m devstack <command>`` (or the Makefile targets).
"""
