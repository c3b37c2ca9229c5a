"""Static reading of migration files and the rules that need no database: the revision graph, the history
against a base ref, and what each migration says and does."""
