"""The fuzzing suite: every reader of files users give unflat, fed damaged files.

``engine`` damages valid files (hypothesis data, so failures shrink and replay), ``runner``
holds the property and its guards (an ``UnflatError`` or a valid result; no other exception,
no hang, no allocation past small limits), one module per kind of file makes the seeds and
checks results (``images``, ``depth``, ``media``, ``splat``, ``models``), ``harnesses`` lists
them. ``test_fuzz`` is the CI run (about a minute); ``python -m tests.fuzz --minutes N`` the
longer one. See docs/fuzzing.md.
"""
