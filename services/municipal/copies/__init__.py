"""Certified copies of resident records (住民票の写し) issued nationwide (広域交付).

Every municipality plays both parts: at its counter it issues copies of people
registered elsewhere (``router``: ``POST /copies``), and it answers other municipalities
about its own residents (``start_copy_responder``, run at service start).
"""

from municipal.copies.responder import start_copy_responder
from municipal.copies.router import router

__all__ = ["router", "start_copy_responder"]
