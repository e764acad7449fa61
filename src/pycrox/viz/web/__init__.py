"""The browser viewer behind ``pycrox view``: a loopback `http.server` and a vanilla-JS page."""

from pycrox.viz.web.server import Viewer, serve, start

__all__ = ["Viewer", "serve", "start"]
