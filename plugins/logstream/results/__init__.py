"""The online statistics' result store: the Storm topology writes it, the dashboard reads it."""
