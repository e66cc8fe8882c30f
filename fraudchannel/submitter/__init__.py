"""The submitter behind scripts/submit.py: files of scam URLs or accounts sent as report batches.

One module per step of a run:
    readers    records from plain lists, CSV, JSON Lines (BOM, CRLF, comments)
    fields     the report item's fields, local checks, JSON Pointers
    items      records to items: constants, column mapping, templates, recoding, client_ref
    batches    batches, request bodies, Idempotency-Keys
    transport  HTTP: access tokens, retries with backoff, jitter and Retry-After
    results    per-item result lines and the run summary
    runner     a whole run (`submit_file`), sending batches concurrently
    errors     usage problems (exit 2) and transport failures
"""
