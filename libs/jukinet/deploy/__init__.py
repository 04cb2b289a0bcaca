"""The operations deployment (deploy/): rendered from a federation description."""

from jukinet.deploy._description import (
    BadDescription,
    Deployment,
    Town,
    dump_description,
    load_description,
)
from jukinet.deploy._render import (
    DeployDir,
    NoCertificateAuthority,
    Rendered,
    broker_configs,
    ca_expiry,
    compose_text,
    render_deployment,
    renew_deployment,
    service_name,
)

__all__ = [
    "BadDescription",
    "DeployDir",
    "Deployment",
    "NoCertificateAuthority",
    "Rendered",
    "Town",
    "broker_configs",
    "ca_expiry",
    "compose_text",
    "dump_description",
    "load_description",
    "render_deployment",
    "renew_deployment",
    "service_name",
]
