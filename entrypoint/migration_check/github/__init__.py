"""Everything GitHub-specific: the Action's inputs and event, workflow commands, outputs, the job summary, and
the REST API for the sticky pull-request comment. The core knows nothing of GitHub; this corner turns the same
Report into what the runner and the pull request show."""
