"""Reports of a run: per-cell outcome tables and plots (`cells`), and the study form that an
env's spec declares (`study`)."""
