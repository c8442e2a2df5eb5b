"""Batch processing (docs/batch.md): many inputs -> one Contract 3 result each under one folder, with
a resumable manifest (batch.json). Executors: local worker processes (default) or Ray actors."""
