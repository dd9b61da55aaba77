"""``unflat app``: the pipelines behind a local web page (Gradio), one tab per job.

:mod:`unflat.app.jobs` runs each job on files (no Gradio there, so it is tested without it);
:mod:`unflat.app.ui` lays the tabs out; :mod:`unflat.app.server` starts the page. Gradio is the
optional extra ``unflat[app]`` and is imported only when the app starts.
"""
