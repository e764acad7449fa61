"""The browser viewer's page, script and style sheet (data files served by `pycrox.viz.web.server`)."""
