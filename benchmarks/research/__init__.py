"""Research experiments: what was tried on the way to the shipped model, each with its results in
``results/`` beside it (``README.md`` here: one line per experiment and what it gave)."""
