"""Adapters for the ports: Postgres for the database; local filesystem and S3 for storage."""
