"""The volume stage: the new migrations on tables filled with rows, observed (run.py); its rules (rules.py)."""
