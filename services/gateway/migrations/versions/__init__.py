"""Revision scripts of the gateway's migrations (one file per revision)."""
