"""The counter: the clerk's web UI, in Japanese, served by the municipal service itself
(every asset local: Juki-Net runs on a closed network). Pages call the service's own API
in-process with the operator's session, so every rule, guard and operation-log entry is
the API's."""

from municipal.ui.routes import install_ui

__all__ = ["install_ui"]
