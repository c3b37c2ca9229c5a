"""The scheduled drift audit: live databases, read-only, against the revision graph, the migrations and the
models (`migration-check audit`, the Action's `mode: audit`)."""
